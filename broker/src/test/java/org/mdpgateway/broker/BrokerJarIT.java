package org.mdpgateway.broker;

import static org.mdpgateway.testing.RawFrames.describe;

import org.mdpgateway.testing.JavaProcess;
import org.mdpgateway.testing.RawFrames;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * Black-box conformance test of the standalone broker jar against 18/MDP v0.2 and 8/MMI.
 *
 * <p>The broker runs as a child JVM ({@code java -jar target/mdp-broker.jar}); every client and worker
 * is a raw JeroMQ DEALER whose messages are built and checked frame by frame here, so that nothing
 * of the project's own codec is trusted. The broker's output goes to {@code target/broker-jar-it/}.
 *
 * <p>The broker heartbeats every {@value #HEARTBEAT_MS} ms and takes a worker for dead after
 * {@value #LIVENESS} silent intervals; every worker of this test that is meant to stay alive sends a
 * HEARTBEAT every {@value #WORKER_HEARTBEAT_MS} ms whenever the test waits for anything (see
 * {@link #pump()}). Time bounds are upper bounds with wide margins; no test asserts precise timing.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class BrokerJarIT {
    private static final Path JAR = Path.of("target/mdp-broker.jar");
    private static final Path LOG_DIR = Path.of("target/broker-jar-it");

    private static final int HEARTBEAT_MS = 200;
    private static final int LIVENESS = 3;
    private static final int REQUEST_EXPIRY_MS = 1500;
    private static final int WORKER_HEARTBEAT_MS = 100;
    /** How long the broker may take at most to drop a silent worker: liveness x interval, plus a tick. */
    private static final Duration WORKER_DEATH = Duration.ofMillis((long) HEARTBEAT_MS * (LIVENESS + 1));

    /** Wait for something that must happen. */
    private static final Duration SOON = Duration.ofSeconds(5);
    /** Wait for something that must not happen. */
    private static final Duration QUIET = Duration.ofMillis(600);

    private static final byte[] MDPC = "MDPC02".getBytes(US_ASCII);
    private static final byte[] MDPW = "MDPW02".getBytes(US_ASCII);
    private static final byte[] EMPTY = new byte[0];
    private static final byte[] BINARY = {0x00, (byte) 0xff, (byte) 0x80, 0x01, 0x7f, 0x0a, 0x00};

    private static final byte C_REQUEST = 0x01;
    private static final byte C_PARTIAL = 0x02;
    private static final byte C_FINAL = 0x03;
    private static final byte W_READY = 0x01;
    private static final byte W_REQUEST = 0x02;
    private static final byte W_PARTIAL = 0x03;
    private static final byte W_FINAL = 0x04;
    private static final byte W_HEARTBEAT = 0x05;
    private static final byte W_DISCONNECT = 0x06;

    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    /** The broker most tests share; each test uses service names of its own. */
    private static BrokerProcess shared;

    private final List<BrokerProcess> ownBrokers = new ArrayList<>();
    private final List<Peer> peers = new ArrayList<>();
    private ZContext context;
    private Peer probe;
    private String testName;

    // ---- lifecycle -----------------------------------------------------------------------------

    @BeforeAll
    static void startSharedBroker() throws Exception {
        assertTrue(Files.isRegularFile(JAR), "no " + JAR.toAbsolutePath() + "; run mvn package (verify) first");
        Files.createDirectories(LOG_DIR);
        shared = BrokerProcess.start("shared", 1);
    }

    @AfterAll
    static void stopSharedBroker() {
        if (shared != null) {
            shared.stop();
        }
    }

    @BeforeEach
    void setUp(TestInfo info) throws Exception {
        testName = info.getTestMethod().map(m -> m.getName()).orElse("test");
        if (!shared.process.isAlive()) {
            // An earlier test killed it (and failed for it); give the others a fresh one.
            shared = BrokerProcess.start("shared-restarted-" + SEQUENCE.incrementAndGet(), 1);
        }
        context = new ZContext(1);
    }

    @AfterEach
    void tearDown() {
        for (Peer peer : peers) {
            peer.socket.close();
        }
        peers.clear();
        context.close();
        for (BrokerProcess broker : ownBrokers) {
            broker.stop();
        }
        ownBrokers.clear();
        assertTrue(shared.process.isAlive(), "the shared broker died during " + testName + "; see " + shared.log);
    }

    // ---- 1. request, partials, final --------------------------------------------------------------

    @Test
    void requestReachesWorker_andPartialsAndFinalReachClientInOrder_thenNothingMore() {
        String service = service("relay");
        Peer worker = readyWorker(shared, service);
        Peer client = client(shared);

        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("hello"), EMPTY, BINARY);

        List<byte[]> request = worker.expect(SOON, "REQUEST");
        assertFrames(request, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("hello"), EMPTY, BINARY);
        byte[] address = request.get(2);

        worker.send(MDPW, cmd(W_PARTIAL), address, EMPTY, bytes("part one"));
        worker.send(MDPW, cmd(W_PARTIAL), address, EMPTY, EMPTY, BINARY);
        worker.send(MDPW, cmd(W_FINAL), address, EMPTY, bytes("done"), EMPTY, BINARY);

        assertFrames(client.expect(SOON, "first PARTIAL"), MDPC, cmd(C_PARTIAL), bytes(service), bytes("part one"));
        assertFrames(client.expect(SOON, "second PARTIAL"), MDPC, cmd(C_PARTIAL), bytes(service), EMPTY, BINARY);
        assertFrames(client.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("done"), EMPTY, BINARY);
        client.expectNothing(QUIET, "after the FINAL");
        worker.expectNothing(QUIET, "after its FINAL, with nothing queued");
    }

    // ---- 2. queueing -----------------------------------------------------------------------------

    @Test
    void requestsForAServiceWithoutWorkers_areQueued_andServedInArrivalOrderOnceAWorkerRegisters() {
        String service = service("queued");
        List<Peer> clients = List.of(client(shared), client(shared), client(shared));
        for (int i = 0; i < clients.size(); i++) {
            clients.get(i).send(MDPC, cmd(C_REQUEST), bytes(service), bytes("request " + i));
            // Separate connections: give the broker time to read each before the next is sent.
            idle(Duration.ofMillis(150));
        }

        Peer worker = peer(shared);
        worker.ready(service);
        for (int i = 0; i < clients.size(); i++) {
            Peer client = clients.get(i);
            List<byte[]> request = worker.expect(SOON, "queued REQUEST " + i);
            assertFrames(request, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("request " + i));
            worker.send(MDPW, cmd(W_FINAL), request.get(2), EMPTY, bytes("reply " + i));
            assertFrames(client.expect(SOON, "FINAL " + i), MDPC, cmd(C_FINAL), bytes(service), bytes("reply " + i));
        }
        worker.expectNothing(QUIET, "once the queue is empty");
    }

    // ---- 3. request expiry -------------------------------------------------------------------------

    @Test
    void queuedRequest_expiresAfterTheRequestExpiry_andALaterWorkerDoesNotGetIt() {
        String service = service("expiry");
        Peer early = client(shared);
        early.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("too early"));
        idle(Duration.ofMillis(REQUEST_EXPIRY_MS + 1500));

        // readyWorker insists that the first thing it hears is a HEARTBEAT, not the stale REQUEST.
        Peer worker = readyWorker(shared, service);
        worker.expectNothing(QUIET, "the expired request must not be delivered");
        early.expectNothing(Duration.ZERO, "an expired request has no reply in MDP/Client");

        // The service works: a fresh request is delivered.
        Peer late = client(shared);
        late.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("in time"));
        List<byte[]> request = worker.expect(SOON, "REQUEST");
        assertFrames(request, MDPW, cmd(W_REQUEST), late.identity, EMPTY, bytes("in time"));
    }

    // ---- 4. least recently used, one request per worker ---------------------------------------

    @Test
    void concurrentRequests_goToDifferentWorkers_andNoWorkerGetsASecondRequestBeforeItsFinal() {
        String service = service("lru");
        Peer first = readyWorker(shared, service);
        Peer second = readyWorker(shared, service);
        Peer c1 = client(shared);
        Peer c2 = client(shared);
        Peer c3 = client(shared);

        c1.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("one"));
        c2.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("two"));
        List<byte[]> r1 = first.expect(SOON, "a REQUEST for the first worker");
        List<byte[]> r2 = second.expect(SOON, "a REQUEST for the second worker");
        assertNotEquals(text(r1.get(4)), text(r2.get(4)), "both workers got the same request");

        // Both busy: a third request waits, and neither worker gets a second REQUEST.
        c3.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("three"));
        first.expectNothing(QUIET, "a second REQUEST before its FINAL");
        second.expectNothing(Duration.ZERO, "a second REQUEST before its FINAL");

        // The first to finish takes the waiting request; the other still gets nothing.
        first.send(MDPW, cmd(W_FINAL), r1.get(2), EMPTY, bytes("reply to " + text(r1.get(4))));
        Peer firstsClient = Arrays.equals(r1.get(2), c1.identity) ? c1 : c2;
        assertFrames(firstsClient.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service),
                bytes("reply to " + text(r1.get(4))));
        List<byte[]> r3 = first.expect(SOON, "the waiting REQUEST, after its FINAL");
        assertFrames(r3, MDPW, cmd(W_REQUEST), c3.identity, EMPTY, bytes("three"));
        second.expectNothing(QUIET, "a second REQUEST before its FINAL");

        second.send(MDPW, cmd(W_FINAL), r2.get(2), EMPTY, bytes("reply to " + text(r2.get(4))));
        first.send(MDPW, cmd(W_FINAL), r3.get(2), EMPTY, bytes("reply to three"));
        Peer secondsClient = firstsClient == c1 ? c2 : c1;
        assertFrames(secondsClient.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service),
                bytes("reply to " + text(r2.get(4))));
        assertFrames(c3.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("reply to three"));
    }

    // ---- 5. heartbeating -------------------------------------------------------------------------

    @Test
    void brokerHeartbeatsIdleAndBusyWorkers_andDropsAWorkerThatFallsSilent() {
        String service = service("heartbeat");
        Peer worker = readyWorker(shared, service); // its first message was already an exact HEARTBEAT
        assertEquals("200", mmi("mmi.service", service));

        // Idle: HEARTBEATs keep coming, each exactly two frames (expectRaw does not skip them).
        for (int i = 0; i < 3; i++) {
            assertFrames(worker.expectRaw(SOON, "HEARTBEAT " + i + " to an idle worker"), MDPW, cmd(W_HEARTBEAT));
        }

        // Busy: still heartbeated while it holds a request.
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("slow"));
        List<byte[]> request = worker.expect(SOON, "REQUEST");
        for (int i = 0; i < 3; i++) {
            assertFrames(worker.expectRaw(SOON, "HEARTBEAT " + i + " to a busy worker"), MDPW, cmd(W_HEARTBEAT));
        }
        worker.send(MDPW, cmd(W_FINAL), request.get(2), EMPTY, bytes("finally"));
        assertFrames(client.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("finally"));

        // Silent: the worker stops heartbeating (its socket stays open) and is dropped.
        worker.heartbeating = false;
        awaitMmi(service, "404", WORKER_DEATH.plus(SOON));

        // A request now waits in the queue, and goes to the next worker, not the silent one.
        Peer waiting = client(shared);
        waiting.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("waits"));
        idle(Duration.ofMillis(300));
        Peer next = peer(shared);
        next.ready(service);
        List<byte[]> queued = next.expect(SOON, "the queued REQUEST");
        assertFrames(queued, MDPW, cmd(W_REQUEST), waiting.identity, EMPTY, bytes("waits"));
        assertNull(worker.next(Duration.ZERO), "the dropped worker got a command other than HEARTBEAT");
    }

    // ---- 6. resending ----------------------------------------------------------------------------

    @Test
    void requestOfAWorkerThatDiesSilently_isResentToAnotherWorker_andTheClientGetsOneFinal() {
        String service = service("resend-silent");
        Peer a = readyWorker(shared, service);
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("idempotent"), BINARY);
        List<byte[]> taken = a.expect(SOON, "REQUEST for worker A");
        assertFrames(taken, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("idempotent"), BINARY);

        Peer b = readyWorker(shared, service);
        close(a); // dies: no DISCONNECT, no more heartbeats

        List<byte[]> resent = b.expect(WORKER_DEATH.plus(SOON), "the resent REQUEST for worker B");
        assertFrames(resent, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("idempotent"), BINARY);
        b.send(MDPW, cmd(W_FINAL), resent.get(2), EMPTY, bytes("served by B"));
        assertFrames(client.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("served by B"));
        client.expectNothing(QUIET, "a second FINAL");
        b.expectNothing(Duration.ZERO, "the request a second time");
    }

    @Test
    void requestOfAWorkerThatSendsDisconnect_isResentToAnotherWorker_andTheClientGetsOneFinal() {
        String service = service("resend-disconnect");
        Peer a = readyWorker(shared, service);
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("idempotent"), EMPTY);
        List<byte[]> taken = a.expect(SOON, "REQUEST for worker A");
        assertFrames(taken, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("idempotent"), EMPTY);

        Peer b = readyWorker(shared, service);
        a.send(MDPW, cmd(W_DISCONNECT));
        a.heartbeating = false;

        List<byte[]> resent = b.expect(SOON, "the resent REQUEST for worker B");
        assertFrames(resent, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("idempotent"), EMPTY);
        b.send(MDPW, cmd(W_FINAL), resent.get(2), EMPTY, bytes("served by B"));
        assertFrames(client.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("served by B"));
        client.expectNothing(QUIET, "a second FINAL");
        // 18/MDP: after a worker's DISCONNECT the broker sends it nothing, not even HEARTBEAT. The
        // broker had taken the DISCONNECT when B got the request; a HEARTBEAT for A sent just before
        // may still be on its way.
        a.drainHeartbeats(Duration.ofMillis(200));
        a.expectRawNothing(QUIET, "after it sent DISCONNECT");
    }

    @Test
    void requestWhosePartialReachedTheClient_isNotResentWhenItsWorkerDies() {
        String service = service("no-resend");
        Peer a = readyWorker(shared, service);
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("stream"));
        List<byte[]> taken = a.expect(SOON, "REQUEST for worker A");
        a.send(MDPW, cmd(W_PARTIAL), taken.get(2), EMPTY, bytes("first half"));
        assertFrames(client.expect(SOON, "PARTIAL"), MDPC, cmd(C_PARTIAL), bytes(service), bytes("first half"));

        Peer b = readyWorker(shared, service);
        close(a);

        // Long enough for A to be dropped several times over; B must not get the request.
        b.expectNothing(WORKER_DEATH.multipliedBy(2).plus(QUIET), "a resend of a request that already sent PARTIAL");
        client.expectNothing(Duration.ZERO, "a FINAL nobody sent");

        // B was available all along: a new request goes to it.
        Peer other = client(shared);
        other.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("new"));
        assertFrames(b.expect(SOON, "the new REQUEST"), MDPW, cmd(W_REQUEST), other.identity, EMPTY, bytes("new"));
    }

    /**
     * A request that goes back to the queue because its worker died is a fresh wait for a worker.
     * Here it had been with its worker for longer than the request expiry, and another worker of the
     * service is busy and will be free soon.
     */
    @Test
    void resentRequest_isNotExpiredForTheTimeItSpentWithTheDeadWorker() {
        String service = service("resend-late");
        Peer a = readyWorker(shared, service);
        Peer b = readyWorker(shared, service);
        Peer c1 = client(shared);
        Peer c2 = client(shared);
        c1.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("long job"));
        List<byte[]> r1 = a.expect(SOON, "REQUEST for worker A");
        assertFrames(r1, MDPW, cmd(W_REQUEST), c1.identity, EMPTY, bytes("long job"));
        c2.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("other job"));
        List<byte[]> r2 = b.expect(SOON, "REQUEST for worker B");

        idle(Duration.ofMillis(REQUEST_EXPIRY_MS + 500)); // both work, both heartbeat
        a.send(MDPW, cmd(W_DISCONNECT));
        a.heartbeating = false;
        idle(Duration.ofMillis(2L * HEARTBEAT_MS)); // the resent request waits while B finishes

        b.send(MDPW, cmd(W_FINAL), r2.get(2), EMPTY, bytes("other done"));
        assertFrames(c2.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("other done"));
        List<byte[]> resent = b.expect(SOON, "the resent REQUEST, now that B is free");
        assertFrames(resent, MDPW, cmd(W_REQUEST), c1.identity, EMPTY, bytes("long job"));
    }

    // ---- 7. MMI ------------------------------------------------------------------------------------

    @Test
    void mmiService_answers200WithAWorker_404WithoutOne_501ForOtherMmiServices() {
        assertEquals("404", mmi("mmi.service", "echo"), "no echo worker yet");
        Peer echo = readyWorker(shared, "echo");
        assertEquals("200", mmi("mmi.service", "echo"), "an echo worker is registered");
        echo.send(MDPW, cmd(W_DISCONNECT));
        echo.heartbeating = false;
        awaitMmi("echo", "404", SOON);

        assertEquals("501", mmi("mmi.bogus", "echo"));
        assertEquals("501", mmi("mmi.workers", "echo"));
    }

    @Test
    void mmiReply_isAFinalOnTheMmiService_whoseLastFrameIsTheCode() {
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes("mmi.service"), bytes("no-such-service-" + SEQUENCE.incrementAndGet()));
        List<byte[]> reply = client.expect(SOON, "MMI reply");
        // As the zguide's mdbroker: the request's frames with the last one, the name, replaced by the code.
        assertFrames(reply, MDPC, cmd(C_FINAL), bytes("mmi.service"), bytes("404"));
        client.expectNothing(QUIET, "after the MMI FINAL");
    }

    @Test
    void workerRegisteringInTheMmiNamespace_getsDisconnect() {
        Peer worker = peer(shared);
        worker.send(MDPW, cmd(W_READY), bytes("mmi.foo"));
        assertFrames(worker.expectRaw(SOON, "DISCONNECT"), MDPW, cmd(W_DISCONNECT));
        worker.expectRawNothing(QUIET, "after DISCONNECT");
        assertEquals("501", mmi("mmi.foo", "x"), "mmi.foo is still the broker's, and not implemented");
    }

    // ---- 8. unexpected commands -------------------------------------------------------------------

    @Test
    void unexpectedSecondReady_getsDisconnect() {
        String service = service("twice");
        Peer worker = readyWorker(shared, service);
        worker.send(MDPW, cmd(W_READY), bytes(service));
        expectDisconnectAndSilence(worker);
        awaitMmi(service, "404", SOON);
    }

    @Test
    void unexpectedFinalWithNoRequestOutstanding_getsDisconnect() {
        String service = service("idle-final");
        Peer worker = readyWorker(shared, service);
        worker.send(MDPW, cmd(W_FINAL), bytes("C-nobody"), EMPTY, bytes("unasked"));
        expectDisconnectAndSilence(worker);
        awaitMmi(service, "404", SOON);
    }

    @Test
    void unexpectedPartialForAnotherClientAddress_getsDisconnect_andIsNotForwarded() {
        String service = service("wrong-address");
        Peer worker = readyWorker(shared, service);
        Peer client = client(shared);
        Peer bystander = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("mine"));
        List<byte[]> request = worker.expect(SOON, "REQUEST");
        assertFrames(request, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("mine"));

        worker.send(MDPW, cmd(W_PARTIAL), bystander.identity, EMPTY, bytes("misrouted"));
        expectDisconnectAndSilence(worker);
        bystander.expectNothing(Duration.ZERO, "a PARTIAL for a request it never made");
        client.expectNothing(Duration.ZERO, "a PARTIAL addressed to someone else");
    }

    @Test
    void unexpectedHeartbeatBeforeReady_getsDisconnect() {
        Peer stranger = peer(shared);
        stranger.send(MDPW, cmd(W_HEARTBEAT));
        expectDisconnectAndSilence(stranger);
    }

    @Test
    void unexpectedFinalBeforeReady_getsDisconnect() {
        Peer stranger = peer(shared);
        stranger.send(MDPW, cmd(W_FINAL), bytes("C-nobody"), EMPTY, bytes("unasked"));
        expectDisconnectAndSilence(stranger);
    }

    // ---- 9. invalid messages ------------------------------------------------------------------------

    @Test
    void invalidMessages_areDropped_andTheBrokerKeepsServing() {
        Peer stranger = peer(shared);
        for (byte[][] message : invalidMessages()) {
            stranger.send(message);
        }
        stranger.expectRawNothing(QUIET, "invalid messages are dropped, not answered");
        assertTrue(shared.process.isAlive(), "the broker died of invalid messages; see " + shared.log);

        String service = service("after-garbage");
        Peer worker = readyWorker(shared, service);
        Peer client = client(shared);
        client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("still there?"));
        List<byte[]> request = worker.expect(SOON, "REQUEST");
        assertFrames(request, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("still there?"));
        worker.send(MDPW, cmd(W_FINAL), request.get(2), EMPTY, bytes("yes"));
        assertFrames(client.expect(SOON, "FINAL"), MDPC, cmd(C_FINAL), bytes(service), bytes("yes"));
    }

    @Test
    void invalidMessageFromARegisteredWorker_dropsThatWorker() {
        List<byte[][]> invalid = List.of(
                frames(bytes("MDPX02"), cmd(W_HEARTBEAT)),                       // garbage header
                frames(MDPW, cmd(0x09)),                                          // unknown command
                frames(MDPW, cmd(W_FINAL), bytes("C-someone"), EMPTY),           // too few frames
                frames(MDPW, cmd(W_REQUEST), bytes("C-someone"), EMPTY));        // REQUEST without body
        List<String> services = new ArrayList<>();
        for (byte[][] message : invalid) {
            String service = service("invalid-worker");
            services.add(service);
            readyWorker(shared, service).send(message);
        }
        for (int i = 0; i < services.size(); i++) {
            awaitMmi(services.get(i), "404", SOON);
        }
        assertTrue(shared.process.isAlive(), "the broker died of invalid messages; see " + shared.log);
    }

    // ---- 10. several endpoints ---------------------------------------------------------------------

    @Test
    void severalBindEndpoints_allServe_clientsOnOneAndWorkersOnTheOther() throws Exception {
        BrokerProcess broker = BrokerProcess.start(testName, 2);
        ownBrokers.add(broker);
        for (int[] ports : new int[][] {{0, 1}, {1, 0}}) {
            String service = service("two-ports");
            Peer worker = readyWorker(broker, broker.endpoint(ports[0]), service);
            Peer client = peer(broker.endpoint(ports[1]));
            client.send(MDPC, cmd(C_REQUEST), bytes(service), bytes("across"));
            List<byte[]> request = worker.expect(SOON, "REQUEST across endpoints");
            assertFrames(request, MDPW, cmd(W_REQUEST), client.identity, EMPTY, bytes("across"));
            worker.send(MDPW, cmd(W_FINAL), request.get(2), EMPTY, bytes("back"));
            assertFrames(client.expect(SOON, "FINAL across endpoints"), MDPC, cmd(C_FINAL), bytes(service),
                    bytes("back"));
        }
    }

    // ---- 11. SIGTERM -------------------------------------------------------------------------------

    @Test
    void sigterm_sendsDisconnectToEveryRegisteredWorker_andExitsZero() throws Exception {
        BrokerProcess broker = BrokerProcess.start(testName, 1);
        ownBrokers.add(broker);
        Peer idle1 = readyWorker(broker, broker.endpoint(0), service("stop-a"));
        Peer idle2 = readyWorker(broker, broker.endpoint(0), service("stop-a"));
        String busyService = service("stop-b");
        Peer busy = readyWorker(broker, broker.endpoint(0), busyService);
        Peer client = peer(broker.endpoint(0));
        client.send(MDPC, cmd(C_REQUEST), bytes(busyService), bytes("interrupted"));
        busy.expect(SOON, "REQUEST");

        broker.process.destroy(); // SIGTERM
        for (Peer worker : List.of(idle1, idle2, busy)) {
            assertFrames(worker.expect(SOON, "DISCONNECT at shutdown"), MDPW, cmd(W_DISCONNECT));
        }
        assertTrue(broker.process.waitFor(10, TimeUnit.SECONDS), "the broker did not exit after SIGTERM");
        assertEquals(0, broker.process.exitValue(), "a clean stop exits 0");
    }

    // ---- 12. command line --------------------------------------------------------------------------

    @Test
    void help_printsUsageAndExitsZero_unknownFlag_exits2() throws Exception {
        Path helpLog = LOG_DIR.resolve("help.log");
        Path unknownLog = LOG_DIR.resolve("unknown-flag.log");
        Process help = BrokerProcess.launch(List.of("--help"), helpLog);
        Process unknown = BrokerProcess.launch(List.of("--no-such-flag", "7"), unknownLog);
        try {
            assertTrue(help.waitFor(20, TimeUnit.SECONDS), "--help did not exit");
            assertTrue(unknown.waitFor(20, TimeUnit.SECONDS), "an unknown flag did not exit");
            String helpText = Files.readString(helpLog);
            assertEquals(0, help.exitValue(), helpText);
            assertTrue(helpText.contains("Usage"), helpText);
            assertTrue(helpText.contains("--bind"), helpText);
            assertTrue(helpText.contains("--heartbeat-interval-ms"), helpText);
            String unknownText = Files.readString(unknownLog);
            assertEquals(2, unknown.exitValue(), unknownText);
            assertTrue(unknownText.contains("--no-such-flag"), "the error should name the flag: " + unknownText);
        } finally {
            help.destroyForcibly();
            unknown.destroyForcibly();
        }
    }

    // ---- helpers: scenarios --------------------------------------------------------------------

    private static List<byte[][]> invalidMessages() {
        return List.of(
                frames(bytes("HELLO"), cmd(C_REQUEST), bytes("svc"), bytes("x")),    // garbage header
                frames(EMPTY),                                                     // one empty frame
                frames(MDPC, cmd(0x07), bytes("svc"), bytes("x")),                 // unknown client command
                frames(MDPW, cmd(0x09)),                                           // unknown worker command
                frames(MDPW, new byte[] {W_READY, W_READY}, bytes("svc")),         // two-byte command
                frames(MDPC, cmd(C_REQUEST), bytes("svc")),                        // REQUEST without body
                frames(MDPC, cmd(C_REQUEST)),                                      // too few frames
                frames(MDPW),                                                      // no command
                frames(MDPW, cmd(W_READY)),                                        // READY without service
                frames(MDPW, cmd(W_REQUEST), bytes("C-x"), EMPTY),                 // worker REQUEST without body
                frames(MDPW, cmd(W_FINAL), EMPTY, EMPTY, bytes("x")));             // empty client address
    }

    /** A DISCONNECT (skipping HEARTBEATs sent before it), and then nothing at all. */
    private void expectDisconnectAndSilence(Peer worker) {
        assertFrames(worker.expect(SOON, "DISCONNECT"), MDPW, cmd(W_DISCONNECT));
        worker.expectRawNothing(QUIET, "after DISCONNECT, not even HEARTBEAT");
    }

    /** Asks an MMI service on the shared broker; returns the reply's last frame. */
    private String mmi(String mmiService, String name) {
        if (probe == null) {
            probe = client(shared);
        }
        probe.send(MDPC, cmd(C_REQUEST), bytes(mmiService), bytes(name));
        List<byte[]> reply = probe.expect(SOON, mmiService + " reply");
        assertTrue(reply.size() >= 4, "an MMI FINAL has at least 4 frames: " + describe(reply));
        assertFrames(reply.subList(0, 3), MDPC, cmd(C_FINAL), bytes(mmiService));
        return text(reply.get(reply.size() - 1));
    }

    /** Polls mmi.service until it answers {@code code} for {@code service}. */
    private void awaitMmi(String service, String code, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last;
        do {
            last = mmi("mmi.service", service);
            if (last.equals(code)) {
                return;
            }
            idle(Duration.ofMillis(100));
        } while (System.nanoTime() - deadline < 0);
        fail("mmi.service for '" + service + "' still answers " + last + " after " + timeout.toMillis()
                + " ms; expected " + code);
    }

    private String service(String what) {
        return testName + "." + what + "." + SEQUENCE.incrementAndGet();
    }

    // ---- helpers: peers --------------------------------------------------------------------------

    private Peer client(BrokerProcess broker) {
        return peer(broker.endpoint(0));
    }

    private Peer peer(BrokerProcess broker) {
        return peer(broker.endpoint(0));
    }

    /**
     * A DEALER with an identity of its own, connected and past its ZMTP handshake, so that what it
     * sends next reaches the broker at once.
     */
    private Peer peer(String endpoint) {
        int n = SEQUENCE.incrementAndGet();
        byte[] identity = ("C-" + n).getBytes(US_ASCII);
        ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        socket.setLinger(0);
        socket.setHandshakeIvl(500);
        socket.setIdentity(identity);
        String monitorAddress = "inproc://broker-jar-it-monitor-" + n;
        assertTrue(socket.monitor(monitorAddress, ZMQ.EVENT_HANDSHAKE_PROTOCOL), "monitor");
        ZMQ.Socket monitor = context.createSocket(SocketType.PAIR);
        monitor.setLinger(0);
        monitor.setReceiveTimeOut(20);
        monitor.connect(monitorAddress);
        socket.connect(endpoint);
        ZMQ.Event event = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (event == null && System.nanoTime() - deadline < 0) {
            pump(); // a stranded connect takes a handshake timeout; the workers must not fall silent meanwhile
            event = ZMQ.Event.recv(monitor);
        }
        socket.monitor(null, 0);
        monitor.close();
        assertNotNull(event, "no ZMTP handshake with " + endpoint + " within 10 s");
        Peer peer = new Peer(socket, identity);
        peers.add(peer);
        return peer;
    }

    /** A worker whose READY has been taken: the first thing it hears is an exact HEARTBEAT. */
    private Peer readyWorker(BrokerProcess broker, String service) {
        return readyWorker(broker, broker.endpoint(0), service);
    }

    private Peer readyWorker(BrokerProcess broker, String endpoint, String service) {
        Peer worker = peer(endpoint);
        worker.ready(service);
        List<byte[]> first = worker.nextRaw(SOON);
        assertNotNull(first, "a worker for '" + service + "' heard nothing after READY; see " + broker.log);
        assertFrames(first, MDPW, cmd(W_HEARTBEAT));
        return worker;
    }

    private void close(Peer peer) {
        peers.remove(peer);
        peer.socket.close();
    }

    /** Waits, keeping the heartbeating workers alive. */
    private void idle(Duration duration) {
        long deadline = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() - deadline < 0) {
            pump();
            try {
                Thread.sleep(Math.min(20, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** Sends a HEARTBEAT from every live worker that has sent nothing for a while. */
    private void pump() {
        long now = System.nanoTime();
        for (Peer peer : peers) {
            if (peer.heartbeating && now - peer.lastSentAt >= TimeUnit.MILLISECONDS.toNanos(WORKER_HEARTBEAT_MS)) {
                peer.send(MDPW, cmd(W_HEARTBEAT));
            }
        }
    }

    /** One DEALER: a client or a worker, as the test uses it. All on the test thread. */
    private final class Peer {
        final ZMQ.Socket socket;
        final byte[] identity;
        /** Whether {@link #pump} sends HEARTBEATs for it: from its READY until it stops or is told to. */
        boolean heartbeating;
        long lastSentAt = System.nanoTime();
        int heartbeatsReceived;

        Peer(ZMQ.Socket socket, byte[] identity) {
            this.socket = socket;
            this.identity = identity;
        }

        void ready(String service) {
            send(MDPW, cmd(W_READY), bytes(service));
            heartbeating = true;
        }

        void send(byte[]... frames) {
            for (int i = 0; i < frames.length; i++) {
                assertTrue(socket.send(frames[i], i < frames.length - 1 ? ZMQ.SNDMORE : 0), "send");
            }
            lastSentAt = System.nanoTime();
        }

        /** The next message other than an exact HEARTBEAT, or null. A DISCONNECT ends heartbeating. */
        List<byte[]> next(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                List<byte[]> message = nextRaw(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
                if (message == null) {
                    return null;
                }
                if (isCommand(message, W_HEARTBEAT)) {
                    heartbeatsReceived++;
                    continue;
                }
                return message;
            }
        }

        /** The next message, HEARTBEATs included, or null; other workers heartbeat meanwhile. */
        List<byte[]> nextRaw(Duration timeout) {
            List<byte[]> message = RawFrames.receive(socket, timeout, BrokerJarIT.this::pump);
            if (message != null && isCommand(message, W_DISCONNECT)) {
                heartbeating = false; // 18/MDP: a worker sends nothing after DISCONNECT
            }
            return message;
        }

        List<byte[]> expect(Duration timeout, String what) {
            List<byte[]> message = next(timeout);
            assertNotNull(message, "expected " + what + " within " + timeout.toMillis() + " ms; see " + logs());
            return message;
        }

        List<byte[]> expectRaw(Duration timeout, String what) {
            List<byte[]> message = nextRaw(timeout);
            assertNotNull(message, "expected " + what + " within " + timeout.toMillis() + " ms; see " + logs());
            return message;
        }

        /** Reads for {@code duration}, failing on anything but an exact HEARTBEAT. */
        void drainHeartbeats(Duration duration) {
            long deadline = System.nanoTime() + duration.toNanos();
            List<byte[]> message;
            while ((message = nextRaw(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) != null) {
                assertTrue(isCommand(message, W_HEARTBEAT), "expected nothing but HEARTBEAT: " + describe(message));
            }
        }

        void expectNothing(Duration timeout, String what) {
            List<byte[]> message = next(timeout);
            if (message != null) {
                fail("unexpected message (" + what + "): " + describe(message));
            }
        }

        void expectRawNothing(Duration timeout, String what) {
            List<byte[]> message = nextRaw(timeout);
            if (message != null) {
                fail("unexpected message (" + what + "): " + describe(message));
            }
        }

        private String logs() {
            List<Path> logs = new ArrayList<>();
            logs.add(shared.log);
            ownBrokers.forEach(b -> logs.add(b.log));
            return logs.toString();
        }
    }

    private static boolean isCommand(List<byte[]> message, byte command) {
        return message.size() == 2 && Arrays.equals(message.get(0), MDPW) && Arrays.equals(message.get(1), cmd(command));
    }

    // ---- helpers: frames -------------------------------------------------------------------------

    private static byte[] cmd(int command) {
        return new byte[] {(byte) command};
    }

    private static byte[] bytes(String s) {
        return s.getBytes(UTF_8);
    }

    private static String text(byte[] frame) {
        return new String(frame, UTF_8);
    }

    private static byte[][] frames(byte[]... frames) {
        return frames;
    }

    private static void assertFrames(List<byte[]> actual, byte[]... expected) {
        assertEquals(describe(Arrays.asList(expected)), describe(actual));
    }

    // ---- the broker process ----------------------------------------------------------------------

    /** The broker jar running as a child JVM, bound to free local TCP ports. */
    private static final class BrokerProcess {
        final Process process;
        final List<Integer> ports;
        final Path log;

        private BrokerProcess(Process process, List<Integer> ports, Path log) {
            this.process = process;
            this.ports = ports;
            this.log = log;
        }

        String endpoint(int i) {
            return "tcp://127.0.0.1:" + ports.get(i);
        }

        /** Starts a broker on {@code endpoints} fresh ports; retries when a port was taken meanwhile. */
        static BrokerProcess start(String name, int endpoints) throws Exception {
            Path log = LOG_DIR.resolve(name + ".log");
            AssertionError failure = null;
            for (int attempt = 1; attempt <= 5; attempt++) {
                List<Integer> ports = new ArrayList<>();
                List<String> args = new ArrayList<>();
                for (int i = 0; i < endpoints; i++) {
                    int port = freePort();
                    ports.add(port);
                    args.add("--bind");
                    args.add("tcp://127.0.0.1:" + port);
                }
                args.addAll(List.of("--heartbeat-interval-ms", String.valueOf(HEARTBEAT_MS),
                        "--heartbeat-liveness", String.valueOf(LIVENESS),
                        "--request-expiry-ms", String.valueOf(REQUEST_EXPIRY_MS)));
                Process process = launch(args, log);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (process.isAlive() && System.nanoTime() - deadline < 0) {
                    if (ports.stream().allMatch(BrokerProcess::accepts)) {
                        return new BrokerProcess(process, List.copyOf(ports), log);
                    }
                    Thread.sleep(50);
                }
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                failure = new AssertionError("broker attempt " + attempt + " on " + ports + " did not come up: "
                        + Files.readString(log));
            }
            throw failure;
        }

        /** Runs the jar with {@code args}, its stdout and stderr both into {@code log}. */
        static Process launch(List<String> args, Path log) throws IOException {
            Files.createDirectories(log.getParent());
            return JavaProcess.jar(JAR, List.of("-Dorg.slf4j.simpleLogger.defaultLogLevel=debug"), args)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        }

        void stop() {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }

        private static int freePort() throws IOException {
            try (ServerSocket socket = new ServerSocket(0)) {
                return socket.getLocalPort();
            }
        }

        private static boolean accepts(int port) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return true;
            } catch (IOException e) {
                return false;
            }
        }
    }
}
