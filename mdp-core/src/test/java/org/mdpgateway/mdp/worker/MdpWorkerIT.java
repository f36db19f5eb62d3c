package org.mdpgateway.mdp.worker;

import static org.mdpgateway.testing.RawFrames.describe;

import org.mdpgateway.testing.ManualClock;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.mdpgateway.mdp.internal.EventLoop;
import org.mdpgateway.mdp.Ticker;
import org.mdpgateway.mdp.Body;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZEvent;
import org.zeromq.ZMonitor;
import org.zeromq.ZMQ;

/**
 * Drives a real {@link MdpWorker} against a broker played frame by frame by a raw JeroMQ ROUTER
 * socket. The peer builds and checks every frame itself, with plain byte comparisons, and never uses
 * {@link MdpCodec} or {@link MdpSockets}, so these tests cannot share the codec's bugs.
 *
 * <p>Most tests use a fake {@link Ticker} that only moves when the test says so; after moving it the
 * test calls {@link MdpWorker#wakeUp()} so the worker's I/O thread reads the clock again. The fake
 * clock starts just below {@link Long#MAX_VALUE}, so tests that move it a few seconds also cross the
 * wrap-around (the {@link Ticker} contract: only differences between readings mean anything).
 *
 * <p>JeroMQ 0.6.0 sometimes strands a fresh TCP connection on the connecting side (a few percent
 * of connects here); the worker's short ZMTP handshake timeout ({@link MdpSockets#DEFAULT_HANDSHAKE_TIMEOUT})
 * then retries it, so a READY may come about a second late. {@link #awaitReady} allows for that.
 *
 * <p>The worker stamps the time of its last send with a fresh clock reading taken just after the
 * socket send, so a test that moved the clock the moment a HEARTBEAT arrived could have that stamp
 * take the new time and wait for a heartbeat that is not due. {@link #advance} therefore moves the
 * clock only while the worker's I/O thread sleeps in its poll, between two turns of its loop.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class MdpWorkerIT {
    private static final byte[] MDPW02 = "MDPW02".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = {0x01};
    private static final byte[] REQUEST = {0x02};
    private static final byte[] PARTIAL = {0x03};
    private static final byte[] FINAL = {0x04};
    private static final byte[] HEARTBEAT = {0x05};
    private static final byte[] DISCONNECT = {0x06};
    private static final byte[] EMPTY = {};

    private static final String SERVICE = "echo";
    private static final byte[] SERVICE_BYTES = SERVICE.getBytes(StandardCharsets.US_ASCII);

    /** A client address with bytes a text-minded codec might mangle. */
    private static final byte[] CLIENT = {0x00, 'c', 'l', 0x01, (byte) 0x80, (byte) 0xfe, (byte) 0xff};

    private static final Duration INTERVAL = Duration.ofSeconds(1);
    private static final long INTERVAL_NANOS = INTERVAL.toNanos();

    /** How long to wait for something that must happen; generous, never a measurement. */
    private static final long WAIT_MS = 3000;
    /** How long to watch for something that must not happen. */
    private static final long QUIET_MS = 200;
    /** How long to wait for a READY: room for a connection or two stranded by JeroMQ and retried. */
    private static final long READY_WAIT_MS = 4000;

    private ZContext context;
    private ZMQ.Socket router;
    private ZMQ.Poller poller;
    private String endpoint;
    private final ManualClock clock = new ManualClock(Long.MAX_VALUE - 2_500_000_000L);
    private final List<MdpWorker> workers = new ArrayList<>();
    private final List<CountDownLatch> latchesToRelease = new ArrayList<>();

    @BeforeEach
    void setUp() {
        context = new ZContext();
        router = context.createSocket(SocketType.ROUTER);
        router.setLinger(0);
        int port = router.bindToRandomPort("tcp://127.0.0.1");
        endpoint = "tcp://127.0.0.1:" + port;
        poller = context.createPoller(1);
        poller.register(router, ZMQ.Poller.POLLIN);
    }

    @AfterEach
    void tearDown() {
        latchesToRelease.forEach(CountDownLatch::countDown);
        for (MdpWorker worker : workers) {
            worker.close();
        }
        poller.close();
        context.close();
    }

    // ---- 1. READY ------------------------------------------------------------------------------

    @Test
    void sendsReadyWithServiceOnConnect() {
        start(builder(), echo());

        Msg ready = awaitReady(noOthers());
        assertFrames(ready, MDPW02, READY, SERVICE_BYTES); // exactly 3 frames
        assertTrue(ready.identity.length > 0, "the ROUTER gives the worker's connection a routing id");
        assertNoMessage();
    }

    // ---- 2. REQUEST -> PARTIAL, PARTIAL, FINAL ---------------------------------------------------

    @Test
    void answersRequestWithPartialsThenFinalToTheSameClient() {
        byte[] binary = {0x00, (byte) 0xff, 0x7f, (byte) 0x80, 0x0a, 0x00};
        AtomicReference<List<byte[]>> received = new AtomicReference<>();
        start(builder(), (request, partials) -> {
            received.set(request.frames());
            partials.send(Body.of("p1".getBytes(StandardCharsets.UTF_8)));
            partials.send(Body.of(EMPTY, binary));
            return Body.of("final".getBytes(StandardCharsets.UTF_8), EMPTY, binary);
        });
        byte[] worker = awaitReady(noOthers()).identity;

        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("hello"), EMPTY, binary);

        assertFrom(expect(), worker, MDPW02, PARTIAL, CLIENT, EMPTY, bytes("p1"));
        assertFrom(expect(), worker, MDPW02, PARTIAL, CLIENT, EMPTY, EMPTY, binary);
        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("final"), EMPTY, binary);
        assertFrameLists(List.of(bytes("hello"), EMPTY, binary), received.get(),
                "the handler gets the request body frames exactly");
        assertNoMessage();
    }

    // ---- 3. A failing handler --------------------------------------------------------------------

    @Test
    void failingHandlerDisconnectsAndReconnectsWithNewReady() {
        AtomicInteger calls = new AtomicInteger();
        start(builder(), (request, partials) -> {
            calls.incrementAndGet();
            if (request.string(0).equals("fail")) {
                throw new IllegalStateException("boom");
            }
            return request;
        });
        byte[] first = awaitReady(noOthers()).identity;

        send(first, MDPW02, REQUEST, CLIENT, EMPTY, bytes("fail"));

        // DISCONNECT on the old connection and READY on a new one; two TCP connections, so the
        // ROUTER may see them in either order.
        List<Msg> others = new ArrayList<>();
        Msg ready = awaitReady(others, first);
        if (others.isEmpty()) {
            others.add(expect());
        }
        assertEquals(1, others.size(), () -> "expected only a DISCONNECT besides the READY, got " + others);
        assertFrom(others.get(0), first, MDPW02, DISCONNECT);

        send(ready.identity, MDPW02, REQUEST, CLIENT, EMPTY, bytes("ok"), EMPTY);
        assertFrom(expect(), ready.identity, MDPW02, FINAL, CLIENT, EMPTY, bytes("ok"), EMPTY);
        assertEquals(2, calls.get());
        assertNoMessage();
    }

    @Test
    void failingHandlerWithErrorReplyAnswersFinalOnTheSameConnection() {
        AtomicReference<Exception> seen = new AtomicReference<>();
        start(builder().errorReply(e -> {
            seen.set(e);
            return Body.ofStrings("error");
        }), (request, partials) -> {
            if (request.string(0).equals("fail")) {
                throw new IllegalStateException("boom");
            }
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;

        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("fail"));
        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("error"));
        assertNotNull(seen.get());
        assertEquals("boom", seen.get().getMessage());

        byte[] otherClient = {'c', '2'};
        send(worker, MDPW02, REQUEST, otherClient, EMPTY, bytes("ok"));
        assertFrom(expect(), worker, MDPW02, FINAL, otherClient, EMPTY, bytes("ok"));
        assertNoMessage();
    }

    // ---- 4. Heartbeats on a fake clock -----------------------------------------------------------

    @Test
    void sendsHeartbeatAfterEachIntervalOfTheClock() {
        MdpWorker w = start(builder(), echo());
        byte[] worker = awaitReady(noOthers()).identity;

        assertNoMessage(); // the fake clock has not moved: no heartbeat however long we wait
        advance(w, INTERVAL_NANOS - 1);
        assertNoMessage(); // one nanosecond short of the interval

        advance(w, 1);
        assertFrom(expect(), worker, MDPW02, HEARTBEAT);
        assertNoMessage(); // one heartbeat per interval, not a stream

        advance(w, INTERVAL_NANOS);
        assertFrom(expect(), worker, MDPW02, HEARTBEAT);
        assertNoMessage();
    }

    // ---- 5. Heartbeats while busy ----------------------------------------------------------------

    @Test
    void heartbeatsWhileHandlerIsBusy() throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        latchesToRelease.add(release);
        MdpWorker w = start(builder().liveness(10), (request, partials) -> {
            started.countDown();
            release.await();
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;

        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("slow"));
        assertTrue(started.await(WAIT_MS, TimeUnit.MILLISECONDS), "the handler starts");

        for (int i = 0; i < 3; i++) {
            advance(w, INTERVAL_NANOS);
            assertFrom(expect(), worker, MDPW02, HEARTBEAT);
        }

        release.countDown();
        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("slow"));
        assertNoMessage();
    }

    // ---- 6. Broker silence -----------------------------------------------------------------------

    @Test
    void reconnectsAfterLivenessIntervalsOfBrokerSilence() {
        MdpWorker w = start(builder().liveness(3).reconnectDelay(Duration.ZERO), echo());
        byte[] first = awaitReady(noOthers()).identity;

        advance(w, 3 * INTERVAL_NANOS - 1);
        // One nanosecond short of expiry: the worker may heartbeat, but must not reconnect.
        List<Msg> before = drain();
        for (Msg m : before) {
            assertFrom(m, first, MDPW02, HEARTBEAT);
        }

        advance(w, 1);
        Msg ready = awaitReady(noOthers(), first);

        send(ready.identity, MDPW02, REQUEST, CLIENT, EMPTY, bytes("again"));
        assertFrom(expect(), ready.identity, MDPW02, FINAL, CLIENT, EMPTY, bytes("again"));
    }

    @Test
    void brokerHeartbeatsKeepTheConnectionAlive() {
        MdpWorker w = start(builder().liveness(3).reconnectDelay(Duration.ZERO), echo());
        byte[] worker = awaitReady(noOthers()).identity;

        // Ten intervals in all, far beyond the expiry of three, in steps of one interval with a
        // broker heartbeat in each. The clock moves without wakeUp(): the broker's HEARTBEAT is what
        // wakes the worker, so it reads that HEARTBEAT before it looks at the clock, however long the
        // message took to arrive. Its own HEARTBEAT back shows it has seen the new time.
        for (int i = 0; i < 10; i++) {
            awaitIoThreadPolling();
            clock.advance(Duration.ofNanos(INTERVAL_NANOS));
            send(worker, MDPW02, HEARTBEAT);
            assertFrom(expect(), worker, MDPW02, HEARTBEAT);
        }

        assertNoMessage(); // no READY from a new connection
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("still here"));
        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("still here"));
    }

    // ---- 7. DISCONNECT from the broker -----------------------------------------------------------

    @Test
    void reconnectsAfterReconnectDelayWhenBrokerSendsDisconnect() {
        Duration delay = Duration.ofSeconds(1);
        String monitorAddress = "inproc://worker-it-monitor-" + System.nanoTime();
        assertTrue(router.monitor(monitorAddress, ZMQ.EVENT_DISCONNECTED));
        ZMQ.Socket monitor = context.createSocket(SocketType.PAIR);
        monitor.connect(monitorAddress);

        MdpWorker w = start(builder().reconnectDelay(delay), echo());
        byte[] first = awaitReady(noOthers()).identity;

        drainEvents(monitor); // a connection stranded by JeroMQ and retried may have closed already
        send(first, MDPW02, DISCONNECT);
        // The worker closes its socket: the ROUTER sees that connection go away.
        assertTrue(awaitDisconnectedEvent(monitor), "the worker closes its socket after DISCONNECT");
        assertNoMessage(); // nothing more on the old connection, and no READY before the delay

        advance(w, delay.toNanos() - 1);
        assertNoMessage();

        advance(w, 1);
        Msg ready = awaitReady(noOthers(), first);

        send(ready.identity, MDPW02, REQUEST, CLIENT, EMPTY, bytes("back"));
        assertFrom(expect(), ready.identity, MDPW02, FINAL, CLIENT, EMPTY, bytes("back"));
    }

    // ---- 8. Clean stop ---------------------------------------------------------------------------

    @Test
    void closeSendsDisconnect() {
        MdpWorker w = start(builder(), echo());
        byte[] worker = awaitReady(noOthers()).identity;

        w.close();

        assertFrom(expect(), worker, MDPW02, DISCONNECT);
        assertNoMessage();
    }

    @Test
    void closingOneWorkerLeavesAnotherOfTheProcessServing() {
        // Neither is given a context: they share the process's one, which close must not end.
        MdpWorker first = start(builder(), echo());
        byte[] firstId = awaitReady(noOthers()).identity;
        start(builder(), echo());
        byte[] secondId = awaitReady(new ArrayList<>(), firstId).identity;

        first.close();
        assertFrom(expect(), firstId, MDPW02, DISCONNECT);

        send(secondId, MDPW02, REQUEST, CLIENT, EMPTY, bytes("still here"));
        assertFrom(expect(), secondId, MDPW02, FINAL, CLIENT, EMPTY, bytes("still here"));
    }

    // ---- 9. Malformed and unexpected input -------------------------------------------------------

    @Test
    void dropsMalformedOrUnexpectedMessagesAndKeepsServing() {
        AtomicInteger calls = new AtomicInteger();
        start(builder(), (request, partials) -> {
            calls.incrementAndGet();
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;

        // Garbage header.
        send(worker, bytes("XXXX02"), REQUEST, CLIENT, EMPTY, bytes("bad"));
        // An MDP/0.1 header.
        send(worker, bytes("MDPW01"), REQUEST, CLIENT, EMPTY, bytes("bad"));
        // A client-protocol command.
        send(worker, bytes("MDPC02"), new byte[] {0x01}, SERVICE_BYTES, bytes("bad"));
        // Header only, no command frame.
        send(worker, MDPW02);
        // Unknown command byte 0x09, and 0x00.
        send(worker, MDPW02, new byte[] {0x09});
        send(worker, MDPW02, new byte[] {0x00}, CLIENT, EMPTY, bytes("bad"));
        // Command frame of two bytes.
        send(worker, MDPW02, new byte[] {0x02, 0x00}, CLIENT, EMPTY, bytes("bad"));
        // Truncated REQUEST: no delimiter.
        send(worker, MDPW02, REQUEST, CLIENT, bytes("bad"));
        // REQUEST whose delimiter frame is not empty.
        send(worker, MDPW02, REQUEST, CLIENT, bytes("x"), bytes("bad"));
        // REQUEST with no body frame.
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY);
        // REQUEST with an empty client address.
        send(worker, MDPW02, REQUEST, EMPTY, EMPTY, bytes("bad"));
        // Valid commands a broker must not send to a worker.
        send(worker, MDPW02, READY, SERVICE_BYTES);
        send(worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("bad"));
        // HEARTBEAT with an extra frame.
        send(worker, MDPW02, HEARTBEAT, bytes("extra"));

        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("good"));

        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("good"));
        assertNoMessage();
        assertEquals(1, calls.get(), "only the valid REQUEST reaches the handler");
    }

    // ---- 10. Real time ---------------------------------------------------------------------------

    @Test
    void realTimeHeartbeatsAndReconnectOnSilence() {
        start(MdpWorker.builder(endpoint, SERVICE)
                .heartbeatInterval(Duration.ofMillis(50))
                .liveness(3)
                .reconnectDelay(Duration.ofMillis(10)), echo());
        byte[] first = awaitReady(noOthers()).identity;

        // The peer stays silent. The worker heartbeats on its own, then gives the broker up and
        // reconnects with a new READY from a new routing id. Every message is a READY from a new
        // connection or a HEARTBEAT from a connection that has sent its READY.
        List<byte[]> connections = new ArrayList<>(List.of(first));
        int heartbeats = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (heartbeats == 0 || connections.size() < 2) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            Msg m = left > 0 ? receive(left) : null;
            if (m == null) {
                fail("within 5 s of broker silence expected heartbeats and a reconnect; got " + heartbeats
                        + " heartbeats and " + connections.size() + " connections");
            }
            boolean known = connections.stream().anyMatch(id -> Arrays.equals(id, m.identity));
            if (known) {
                assertFrom(m, m.identity, MDPW02, HEARTBEAT);
                heartbeats++;
            } else {
                assertFrames(m, MDPW02, READY, SERVICE_BYTES);
                connections.add(m.identity);
            }
        }
    }

    // ---- 9. Where handlers run ---------------------------------------------------------------------

    @Test
    void shortHandlersRunOnTheIoThreadAndALongOneHandsItsRoleOverWhileHeartbeatsGoOn() throws Exception {
        List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch release = new CountDownLatch(1);
        latchesToRelease.add(release);
        start(MdpWorker.builder(endpoint, SERVICE).heartbeatInterval(Duration.ofMillis(50)).liveness(1000),
                (request, partials) -> {
                    threads.add(Thread.currentThread().getName());
                    if (new String(request.frame(0), StandardCharsets.UTF_8).equals("slow")) {
                        release.await();
                    }
                    return request;
                });
        byte[] worker = awaitReady(noOthers()).identity;

        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("quick"));
        assertFrom(expectSkippingHeartbeats(worker), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("quick"));
        assertEquals("mdp-worker-" + SERVICE, threads.get(0), "a short handler runs on the I/O thread");

        // A handler that blocks: the worker must go on heartbeating (18/MDP) while it does.
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("slow"));
        int heartbeats = 0;
        while (heartbeats < 5) {
            assertFrom(expect(), worker, MDPW02, HEARTBEAT);
            heartbeats++;
        }
        release.countDown();
        assertFrom(expectSkippingHeartbeats(worker), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("slow"));

        // After a long one, the next runs on the handler thread; after a short one there, inline again.
        for (String body : List.of("third", "fourth")) {
            send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes(body));
            assertFrom(expectSkippingHeartbeats(worker), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes(body));
        }
        assertEquals(List.of("mdp-worker-" + SERVICE, "mdp-worker-" + SERVICE, "mdp-worker-" + SERVICE + "-handler",
                "mdp-worker-" + SERVICE), threads);
    }

    @Test
    void withoutInlineHandlersEveryRequestRunsOnTheHandlerThread() throws Exception {
        List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        start(builder().inlineHandlers(false), (request, partials) -> {
            threads.add(Thread.currentThread().getName());
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;
        for (String body : List.of("one", "two")) {
            send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes(body));
            assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes(body));
        }
        assertEquals(List.of("mdp-worker-" + SERVICE + "-handler", "mdp-worker-" + SERVICE + "-handler"), threads);
    }

    @Test
    void closeDuringALongInlineHandlerSendsDisconnectAndInterruptsIt() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        MdpWorker w = start(builder(), (request, partials) -> {
            started.countDown();
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
            }
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("forever"));
        assertTrue(started.await(WAIT_MS, TimeUnit.MILLISECONDS), "the handler starts");

        long before = System.nanoTime();
        w.close();
        assertTrue(System.nanoTime() - before < TimeUnit.SECONDS.toNanos(4), "close does not wait out its timeout");
        assertFrom(expect(), worker, MDPW02, DISCONNECT);
        assertTrue(interrupted.await(WAIT_MS, TimeUnit.MILLISECONDS), "the handler is interrupted");
    }

    @Test
    void aHandlerMayCloseItsOwnWorker() throws Exception {
        AtomicReference<MdpWorker> self = new AtomicReference<>();
        CountDownLatch closed = new CountDownLatch(1);
        self.set(start(builder(), (request, partials) -> {
            self.get().close();
            closed.countDown();
            return request;
        }));
        byte[] worker = awaitReady(noOthers()).identity;
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("bye"));
        assertTrue(closed.await(WAIT_MS, TimeUnit.MILLISECONDS), "close() returns inside the handler");
        assertFrom(expect(), worker, MDPW02, DISCONNECT);
    }

    @Test
    void aPartialSentFromAnotherThreadGoesBeforeTheFinalOfAShortHandler() throws Exception {
        start(builder(), (request, partials) -> {
            Thread helper = new Thread(() -> partials.send(Body.of(bytes("from a helper"))));
            helper.start();
            helper.join(); // its PARTIAL is on its way; the FINAL follows at once
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;
        for (int i = 0; i < 20; i++) {
            send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("r" + i));
            assertFrom(expect(), worker, MDPW02, PARTIAL, CLIENT, EMPTY, bytes("from a helper"));
            assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("r" + i));
        }
    }

    @Test
    void anErrorReplyFunctionMayCloseTheWorker() throws Exception {
        AtomicReference<MdpWorker> self = new AtomicReference<>();
        AtomicLong closeTook = new AtomicLong(-1);
        self.set(start(builder().errorReply(e -> {
            long before = System.nanoTime();
            self.get().close();
            closeTook.set(System.nanoTime() - before);
            return Body.of(bytes("sorry"));
        }), (request, partials) -> {
            throw new IllegalStateException("no");
        }));
        byte[] worker = awaitReady(noOthers()).identity;
        send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("x"));
        assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("sorry"));
        assertFrom(expect(), worker, MDPW02, DISCONNECT);
        assertTrue(closeTook.get() >= 0 && closeTook.get() < TimeUnit.SECONDS.toNanos(4),
                "close() on the I/O thread does not wait for that thread");
    }

    /** The next message from {@code worker} that is not a HEARTBEAT. */
    private Msg expectSkippingHeartbeats(byte[] worker) {
        while (true) {
            Msg m = expect();
            if (!(Arrays.equals(worker, m.identity) && m.frames.size() == 2 && Arrays.equals(HEARTBEAT, m.frames.get(1)))) {
                return m;
            }
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------

    // ---- 10. Waking an I/O thread that sleeps in its socket's receive ---------------------------

    /**
     * With one broker the I/O thread sleeps in its socket's blocking receive, up to the next
     * heartbeat; other threads must wake it. A heartbeat a minute away makes a lost wake-up show as
     * a wait far past these tests' limits.
     */
    private MdpWorker.Builder sleepingLong() {
        return builder().heartbeatInterval(Duration.ofMinutes(1));
    }

    @Test
    void closeWakesAnIoThreadThatSleepsUntilItsNextHeartbeat() {
        MdpWorker w = start(sleepingLong(), echo());
        byte[] worker = awaitReady(noOthers()).identity;
        awaitIoThreadPolling();

        w.close();

        assertFrom(expect(), worker, MDPW02, DISCONNECT);
    }

    @Test
    void aHandlerThreadsFinalAndPartialsWakeTheSleepingIoThread() {
        start(sleepingLong().inlineHandlers(false), (request, partials) -> {
            for (int i = 0; i < 50; i++) {
                partials.send(Body.of(bytes("p" + i)));
            }
            return request;
        });
        byte[] worker = awaitReady(noOthers()).identity;
        for (int round = 0; round < 5; round++) {
            awaitIoThreadPolling();
            send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("r" + round));
            for (int i = 0; i < 50; i++) {
                assertFrom(expect(), worker, MDPW02, PARTIAL, CLIENT, EMPTY, bytes("p" + i));
            }
            assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("r" + round));
        }
    }

    @Test
    void questionsFromOtherThreadsAreAnsweredWhileTheIoThreadSleeps() throws Exception {
        MdpWorker w = start(sleepingLong(), echo());
        byte[] worker = awaitReady(noOthers()).identity;
        // Several threads ask at once, over and over, first alone and then while requests come and
        // go: a wake-up lost between the I/O thread's look at its queue and its receive would leave
        // one waiting a minute (connections() gives up after 5 s).
        for (int phase = 0; phase < 2; phase++) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            List<Thread> askers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                Thread asker = new Thread(() -> {
                    try {
                        for (int i = 0; i < 200; i++) {
                            assertEquals(1, w.connections().size());
                        }
                    } catch (Throwable e) {
                        failed.compareAndSet(null, e);
                    }
                });
                askers.add(asker);
                asker.start();
            }
            if (phase == 1) {
                for (int i = 0; i < 50; i++) {
                    send(worker, MDPW02, REQUEST, CLIENT, EMPTY, bytes("r" + i));
                    assertFrom(expect(), worker, MDPW02, FINAL, CLIENT, EMPTY, bytes("r" + i));
                }
            }
            for (Thread asker : askers) {
                asker.join(TimeUnit.SECONDS.toMillis(30));
                assertTrue(!asker.isAlive(), "every question was answered");
            }
            assertNull(failed.get(), () -> "a question failed: " + failed.get());
        }
    }

    @Test
    void aMovedClockIsReadAtOnceByTheSleepingIoThread() {
        MdpWorker w = start(sleepingLong(), echo());
        byte[] worker = awaitReady(noOthers()).identity;
        awaitIoThreadPolling();

        advance(w, Duration.ofMinutes(1).toNanos());

        assertFrom(expect(), worker, MDPW02, HEARTBEAT);
    }

    private MdpWorker.Builder builder() {
        // Reconnect at once unless a test says otherwise.
        return MdpWorker.builder(endpoint, SERVICE)
                .heartbeatInterval(INTERVAL)
                .reconnectDelay(Duration.ZERO)
                .ticker(clock::nanoTime);
    }

    private MdpWorker start(MdpWorker.Builder builder, RequestHandler handler) {
        MdpWorker worker = builder.start(handler);
        workers.add(worker);
        return worker;
    }

    private static RequestHandler echo() {
        return (request, partials) -> request;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Moves the fake clock by {@code nanos} while the worker's I/O thread is idle in its poll, then
     * wakes it so it reads the clock again.
     */
    private void advance(MdpWorker w, long nanos) {
        awaitIoThreadPolling();
        clock.advance(Duration.ofNanos(nanos));
        w.wakeUp();
    }

    /**
     * Waits until every worker I/O thread sleeps in {@link EventLoop#poll} or
     * {@link EventLoop#receiveOrWake}: all its sends are stamped.
     */
    private static void awaitIoThreadPolling() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        while (true) {
            boolean allPolling = true;
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().equals("mdp-worker-" + SERVICE) && t.isAlive() && !inPoll(t.getStackTrace())) {
                    allPolling = false;
                }
            }
            if (allPolling) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                fail("the worker's I/O thread did not go back to its poll");
            }
            Thread.onSpinWait();
        }
    }

    private static boolean inPoll(StackTraceElement[] stack) {
        for (StackTraceElement e : stack) {
            if (e.getClassName().equals(EventLoop.class.getName())
                    && (e.getMethodName().equals("poll") || e.getMethodName().equals("receiveOrWake"))) {
                return true;
            }
        }
        return false;
    }

    private static List<Msg> noOthers() {
        return new ArrayList<>() {
            @Override
            public boolean add(Msg m) {
                throw new AssertionError("expected a READY, got " + m);
            }
        };
    }

    /**
     * Waits for a READY for our service (exactly 3 frames) from a connection whose routing id is none
     * of {@code oldIds}, and returns it. Messages from the old connections that come meanwhile go to
     * {@code others}.
     */
    private Msg awaitReady(List<Msg> others, byte[]... oldIds) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_WAIT_MS);
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            Msg m = left > 0 ? receive(left) : null;
            if (m == null) {
                return fail("no READY from a new connection within " + READY_WAIT_MS + " ms; also got " + others);
            }
            boolean fromOld = false;
            for (byte[] old : oldIds) {
                fromOld |= Arrays.equals(old, m.identity);
            }
            if (!fromOld) {
                assertFrames(m, MDPW02, READY, SERVICE_BYTES);
                return m;
            }
            others.add(m);
        }
    }

    /** Sends one multipart message to the peer with routing id {@code to}. */
    private void send(byte[] to, byte[]... frames) {
        assertTrue(router.send(to, ZMQ.SNDMORE), "send routing id");
        for (int i = 0; i < frames.length; i++) {
            assertTrue(router.send(frames[i], i < frames.length - 1 ? ZMQ.SNDMORE : 0), "send frame " + i);
        }
    }

    /** One multipart message as a ROUTER receives it: the sender's routing id, then the frames. */
    private record Msg(byte[] identity, List<byte[]> frames) {
        @Override
        public String toString() {
            return "from " + hex(identity) + ": " + describe(frames);
        }
    }

    /** Receives one whole multipart message, or null when none arrives within {@code timeoutMs}. */
    private Msg receive(long timeoutMs) {
        byte[] waiting = router.recv(ZMQ.DONTWAIT);
        if (waiting != null) {
            return rest(waiting);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return null;
            }
            if (poller.poll(left) > 0 && poller.pollin(0)) {
                byte[] first = router.recv(ZMQ.DONTWAIT);
                if (first != null) {
                    return rest(first);
                }
            }
        }
    }

    private Msg rest(byte[] identity) {
        assertTrue(router.hasReceiveMore(), "a ROUTER message has frames after the routing id");
        List<byte[]> frames = new ArrayList<>();
        while (router.hasReceiveMore()) {
            frames.add(router.recv(0));
        }
        return new Msg(identity, frames);
    }

    private Msg expect() {
        Msg m = receive(WAIT_MS);
        assertNotNull(m, "expected a message within " + WAIT_MS + " ms");
        return m;
    }

    private void assertNoMessage() {
        Msg m = receive(QUIET_MS);
        assertNull(m, () -> "expected no message, got " + m);
    }

    /** Every message that arrives within the quiet period. */
    private List<Msg> drain() {
        List<Msg> all = new ArrayList<>();
        Msg m;
        while ((m = receive(QUIET_MS)) != null) {
            all.add(m);
        }
        return all;
    }

    private static void assertFrames(Msg actual, byte[]... expected) {
        assertFrameLists(List.of(expected), actual.frames, "frames of " + actual);
    }

    private static void assertFrom(Msg actual, byte[] identity, byte[]... expected) {
        assertArrayEquals(identity, actual.identity, () -> "routing id of " + actual);
        assertFrameLists(List.of(expected), actual.frames, "frames of " + actual);
    }

    private static void assertFrameLists(List<byte[]> expected, List<byte[]> actual, String what) {
        assertEquals(describe(expected), describe(actual), what);
    }

    private static String hex(byte[] b) {
        return "[" + HexFormat.of().formatHex(b) + "]";
    }

    private static void drainEvents(ZMQ.Socket monitor) {
        while (ZEvent.recv(monitor, ZMQ.DONTWAIT) != null) {
            // discard
        }
    }

    private boolean awaitDisconnectedEvent(ZMQ.Socket monitor) {
        ZMQ.Poller p = context.createPoller(1);
        try {
            p.register(monitor, ZMQ.Poller.POLLIN);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
            while (true) {
                ZEvent event = ZEvent.recv(monitor, ZMQ.DONTWAIT);
                if (event != null && event.getEvent() == ZMonitor.Event.DISCONNECTED) {
                    return true;
                }
                if (event != null) {
                    continue;
                }
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                p.poll(left);
            }
        } finally {
            p.close();
        }
    }

}
