package org.mdpgateway.mdp.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.MdpException;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.internal.MdpSockets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * {@link MdpClient#request} on the caller's thread, against a broker played frame by frame on a raw
 * ROUTER socket: resend on a new socket, no resend after a PARTIAL, socket reuse, many callers at
 * once, and close while a caller waits.
 */
class MdpClientBlockingIT {
    private ZContext context;
    private ZMQ.Socket broker;
    private String endpoint;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void bind() {
        context = new ZContext(1);
        broker = context.createSocket(SocketType.ROUTER);
        broker.setLinger(0);
        broker.setReceiveTimeOut(5000);
        int port = broker.bindToRandomPort("tcp://127.0.0.1");
        endpoint = "tcp://127.0.0.1:" + port;
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        context.close();
    }

    private MdpClient client(Duration timeout, int attempts) {
        MdpClient client = MdpClient.builder(endpoint).timeout(timeout).attempts(attempts).build();
        toClose.add(client);
        return client;
    }

    /** One request as the broker receives it: routing id, "MDPC02", 0x01, service, body... */
    private List<byte[]> receive() {
        List<byte[]> frames = MdpSockets.receive(broker, 0);
        assertTrue(frames != null, "the broker got no request");
        assertEquals("MDPC02", new String(frames.get(1), UTF_8));
        assertArrayEquals(new byte[] {1}, frames.get(2));
        return frames;
    }

    /** A routing id as text: they are binary, so not as UTF-8, which would merge distinct ones. */
    private static String hex(byte[] id) {
        return java.util.HexFormat.of().formatHex(id);
    }

    private void reply(byte[] to, int command, String service, String body) {
        broker.send(to, ZMQ.SNDMORE);
        broker.send("MDPC02", ZMQ.SNDMORE);
        broker.send(new byte[] {(byte) command}, ZMQ.SNDMORE);
        broker.send(service, ZMQ.SNDMORE);
        broker.send(body);
    }

    @Test
    void aRequestUnansweredInTime_isResentOnANewSocket_andItsAnswerIsTheReply() throws Exception {
        // Long enough that the second attempt's new socket connects and is answered within it on a loaded machine.
        MdpClient client = client(Duration.ofMillis(1000), 3);
        CompletableFuture<Reply> reply = CompletableFuture.supplyAsync(() -> client.request("echo", Body.ofStrings("hi")));
        List<byte[]> first = receive(); // ignored: the attempt times out
        List<byte[]> second = receive();
        assertNotEquals(hex(first.get(0)), hex(second.get(0)), "a new socket");
        assertEquals("hi", new String(second.get(4), UTF_8));
        reply(second.get(0), 3, "echo", "answered");
        assertEquals("answered", reply.get(5, TimeUnit.SECONDS).finalBody().string(0));
    }

    @Test
    void afterAPartial_noResend_andTheTimeoutCountsThePartials() throws Exception {
        // Long enough that the PARTIAL arrives within the first attempt on a loaded machine.
        MdpClient client = client(Duration.ofMillis(1500), 3);
        CompletableFuture<Reply> reply = CompletableFuture.supplyAsync(() -> client.request("slow", Body.ofStrings("go")));
        List<byte[]> request = receive();
        reply(request.get(0), 2, "slow", "part one");
        Exception failure = assertThrows(Exception.class, () -> reply.get(5, TimeUnit.SECONDS));
        assertTrue(failure.getCause() instanceof RequestTimeoutException, failure.toString());
        RequestTimeoutException timeout = (RequestTimeoutException) failure.getCause();
        assertEquals(1, timeout.attempts());
        assertEquals(1, timeout.partialsReceived());
        broker.setReceiveTimeOut(300);
        assertEquals(null, MdpSockets.receive(broker, 0), "the request was not sent again");
    }

    @Test
    void partialsAreCollected_andASocketIsReusedForTheNextRequest() throws Exception {
        MdpClient client = client(Duration.ofSeconds(5), 1);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int n = i;
            CompletableFuture<Reply> reply = CompletableFuture.supplyAsync(() -> client.request("svc", Body.ofStrings("r" + n)));
            List<byte[]> request = receive();
            ids.add(hex(request.get(0)));
            reply(request.get(0), 2, "svc", "p" + n);
            reply(request.get(0), 2, "other", "not ours: dropped");
            reply(request.get(0), 3, "svc", "f" + n);
            Reply r = reply.get(5, TimeUnit.SECONDS);
            assertEquals(List.of("p" + n), r.partials().stream().map(b -> b.string(0)).toList());
            assertEquals("f" + n, r.finalBody().string(0));
        }
        assertEquals(1, ids.stream().distinct().count(), "one socket served all three: " + ids);
    }

    @Test
    void manyCallersAtOnce_eachGetTheirOwnReply() throws Exception {
        MdpClient client = client(Duration.ofSeconds(10), 1);
        Thread echo = new Thread(() -> {
            for (int i = 0; i < 16 * 50; i++) {
                List<byte[]> request = MdpSockets.receive(broker, 0);
                if (request == null) {
                    return;
                }
                reply(request.get(0), 3, "echo", new String(request.get(4), UTF_8));
            }
        });
        echo.start();
        ExecutorService callers = Executors.newFixedThreadPool(16);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int caller = t;
            results.add(callers.submit(() -> {
                int right = 0;
                for (int i = 0; i < 50; i++) {
                    String body = caller + "-" + i;
                    if (client.request("echo", Body.ofStrings(body)).finalBody().string(0).equals(body)) {
                        right++;
                    }
                }
                return right;
            }));
        }
        for (Future<Integer> f : results) {
            assertEquals(50, f.get(30, TimeUnit.SECONDS));
        }
        callers.shutdown();
        echo.join(5000);
    }

    @Test
    void anInterruptedCaller_getsAnMdpException_andKeepsItsInterrupt() throws Exception {
        MdpClient client = client(Duration.ofSeconds(30), 1);
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread caller = new Thread(() -> {
            try {
                client.request("never", Body.ofStrings("x"));
                outcome.complete(null);
            } catch (RuntimeException e) {
                outcome.complete(Thread.currentThread().isInterrupted() ? e : new AssertionError("interrupt lost", e));
            }
        });
        caller.start();
        receive();
        caller.interrupt();
        Throwable thrown = outcome.get(5, TimeUnit.SECONDS);
        assertTrue(thrown instanceof MdpException && !(thrown instanceof ClientClosedException), String.valueOf(thrown));
        // The client still serves other callers.
        CompletableFuture<Reply> next = CompletableFuture.supplyAsync(() -> client.request("echo", Body.ofStrings("y")));
        List<byte[]> request = receive();
        reply(request.get(0), 3, "echo", "still here");
        assertEquals("still here", next.get(5, TimeUnit.SECONDS).finalBody().string(0));
    }

    @Test
    void closeWhileACallerWaits_failsItWithClientClosed() throws Exception {
        MdpClient client = client(Duration.ofSeconds(30), 1);
        CompletableFuture<Reply> reply = CompletableFuture.supplyAsync(() -> client.request("never", Body.ofStrings("x")));
        receive();
        long start = System.nanoTime();
        client.close();
        Exception failure = assertThrows(Exception.class, () -> reply.get(5, TimeUnit.SECONDS));
        assertTrue(failure.getCause() instanceof ClientClosedException, failure.toString());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
        assertThrows(ClientClosedException.class, () -> client.request("never", Body.ofStrings("y")));
    }

    @Test
    void closingOneClientLeavesAnotherOfTheProcessWorking() throws Exception {
        // Neither is given a context: they share the process's one, which close must not end.
        MdpClient closed = client(Duration.ofSeconds(5), 1);
        MdpClient open = client(Duration.ofSeconds(5), 1);
        CompletableFuture<Reply> before = CompletableFuture.supplyAsync(() -> closed.request("svc", Body.ofStrings("a")));
        reply(receive().get(0), 3, "svc", "A");
        assertEquals("A", new String(before.get(5, TimeUnit.SECONDS).finalBody().frame(0), UTF_8));

        closed.close();

        CompletableFuture<Reply> after = CompletableFuture.supplyAsync(() -> open.request("svc", Body.ofStrings("b")));
        reply(receive().get(0), 3, "svc", "B");
        assertEquals("B", new String(after.get(5, TimeUnit.SECONDS).finalBody().frame(0), UTF_8));
    }
}
