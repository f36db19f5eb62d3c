package org.mdpgateway.broker;

import org.mdpgateway.testing.Await;
import static org.mdpgateway.testing.RawFrames.strings;
import static org.mdpgateway.testing.RawFrames.send;
import static org.mdpgateway.testing.RawFrames.receive;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.Reply;
import org.mdpgateway.mdp.worker.RequestHandler;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** The broker over real sockets, with the Java client and worker and with raw peers built by hand. */
class BrokerIT {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final ZContext peers = new ZContext(1);
    private Broker broker;

    @AfterEach
    void closeAll() throws Exception {
        Collections.reverse(closeables);
        for (AutoCloseable c : closeables) {
            c.close();
        }
        if (broker != null) {
            broker.close();
        }
        peers.close();
    }

    private Broker startBroker(BrokerConfig config) {
        broker = Broker.start(config);
        return broker;
    }

    private Broker startBroker() {
        return startBroker(BrokerConfig.defaults("tcp://127.0.0.1:*"));
    }

    private String tcpEndpoint() {
        return broker.boundEndpoints().stream().filter(e -> e.startsWith("tcp://")).findFirst().orElseThrow();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private MdpWorker worker(String endpoint, String service, org.mdpgateway.mdp.worker.RequestHandler handler) {
        return closeLater(MdpWorker.builder(endpoint, service).start(handler));
    }

    private MdpClient client(String endpoint) {
        return closeLater(MdpClient.builder(endpoint).timeout(WAIT).attempts(1).build());
    }

    /** A raw DEALER peer; frames are built by hand. */
    private ZMQ.Socket dealer(String endpoint) {
        ZMQ.Socket socket = peers.createSocket(SocketType.DEALER);
        socket.setLinger(0);
        socket.setHandshakeIvl(500); // see MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT
        socket.setReceiveTimeOut((int) WAIT.toMillis());
        socket.connect(endpoint);
        return socket;
    }

    private static String str(List<byte[]> frames, int i) {
        return new String(frames.get(i), UTF_8);
    }

    private static byte[] b(int commandByte) {
        return new byte[] {(byte) commandByte};
    }

    private static boolean waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        return Await.until(condition, WAIT);
    }

    private ServiceStats statsOf(String service) throws Exception {
        return broker.stats().get(5, TimeUnit.SECONDS).stream().filter(s -> s.service().equals(service))
                .findFirst().orElse(null);
    }

    // ---- tests ---------------------------------------------------------------------------------

    @Test
    void javaClientAndWorker_streamPartialsThroughTheBroker() throws Exception {
        startBroker();
        worker(tcpEndpoint(), "count", (request, partials) -> {
            int n = Integer.parseInt(request.string(0));
            for (int i = 1; i <= n; i++) {
                partials.send(Body.ofStrings("tick " + i));
            }
            return Body.ofStrings("done", "");
        });
        Reply reply = client(tcpEndpoint()).request("count", Body.ofStrings("3"));
        assertEquals(List.of(Body.ofStrings("tick 1"), Body.ofStrings("tick 2"), Body.ofStrings("tick 3")),
                reply.partials());
        assertEquals(Body.ofStrings("done", ""), reply.finalBody());
    }

    @Test
    void rawPeers_seeTheFramesOfSpec18() {
        startBroker();
        ZMQ.Socket worker = dealer(tcpEndpoint());
        send(worker, "MDPW02", b(1), "raw");
        ZMQ.Socket client = dealer(tcpEndpoint());
        byte[] binary = {0, (byte) 0xff, 1};
        send(client, "MDPC02", b(1), "raw", "hello", new byte[0], binary);

        List<byte[]> request = receive(worker);
        assertNotNull(request, "the worker got no REQUEST");
        while (request.size() == 2) { // heartbeats may come first
            request = receive(worker);
        }
        assertEquals(7, request.size());
        assertEquals("MDPW02", str(request, 0));
        assertArrayEquals(b(2), request.get(1));
        byte[] address = request.get(2);
        assertEquals(0, request.get(3).length);
        assertEquals("hello", str(request, 4));
        assertEquals(0, request.get(5).length);
        assertArrayEquals(binary, request.get(6));

        send(worker, "MDPW02", b(3), address, new byte[0], "part");
        send(worker, "MDPW02", b(4), address, new byte[0], "end", binary);
        List<byte[]> partial = receive(client);
        assertEquals(List.of("MDPC02", "\u0002", "raw", "part"), strings(partial));
        List<byte[]> fin = receive(client);
        assertEquals(5, fin.size());
        assertEquals(List.of("MDPC02", "\u0003", "raw", "end"), strings(fin.subList(0, 4)));
        assertArrayEquals(binary, fin.get(4));
    }

    @Test
    void oneSocket_servesTcpAndInprocEndpointsAtOnce() {
        try (ZContext shared = new ZContext(1)) {
            String inproc = "inproc://broker-it-" + System.nanoTime();
            broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*", inproc), shared);
            assertEquals(List.of(tcpEndpoint(), inproc), broker.boundEndpoints());
            try (MdpWorker worker = MdpWorker.builder(inproc, "echo").context(shared).start((request, p) -> request)) {
                Reply reply = client(tcpEndpoint()).request("echo", Body.ofStrings("across endpoints"));
                assertEquals("across endpoints", reply.finalBody().string(0));
            }
            broker.close();
        }
    }

    /** A closed socket's endpoints are free once it has lingered out (JeroMQ closes it in the background). */
    private static Broker startWhenFree(BrokerConfig config, ZContext context) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                return Broker.start(config, context);
            } catch (IllegalArgumentException stillBound) {
                if (System.nanoTime() - end > 0) {
                    throw stillBound;
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void aBrokerInTheCallersContext_closesOnlyItsOwnSockets() throws Exception {
        String inproc = "inproc://broker-it-" + System.nanoTime();
        BrokerConfig config = BrokerConfig.defaults(inproc).withHeartbeat(Duration.ofMillis(100), 3);
        ZContext shared = new ZContext(1);
        List<AutoCloseable> open = new ArrayList<>(); // closed last first, and always before the context
        try {
            Broker first = Broker.start(config, shared);
            open.add(first);
            open.add(MdpWorker.builder(inproc, "echo").context(shared).heartbeatInterval(Duration.ofMillis(100))
                    .reconnectDelay(Duration.ofMillis(50)).start((request, p) -> request));
            MdpClient client = MdpClient.builder(inproc).context(shared).timeout(Duration.ofSeconds(2)).attempts(5).build();
            open.add(client);
            assertEquals("one", client.request("echo", Body.ofStrings("one")).finalBody().string(0));

            first.close();
            // The worker's and the client's sockets were not closed under them: both go on with the
            // next broker bound to the same endpoint in the same context.
            open.add(0, startWhenFree(config, shared));
            assertEquals("two", client.request("echo", Body.ofStrings("two")).finalBody().string(0));
        } finally {
            Collections.reverse(open);
            for (AutoCloseable c : open) {
                c.close();
            }
            assertTrue(shared.getSockets().isEmpty(), "sockets left open: " + shared.getSockets());
            shared.close();
        }
    }

    @Test
    void manyClientsAndManyWorkers_everyReplyReachesTheClientThatAsked() throws Exception {
        startBroker();
        String endpoint = tcpEndpoint();
        int services = 3;
        int workersPerService = 4;
        Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
        for (int s = 0; s < services; s++) {
            for (int w = 0; w < workersPerService; w++) {
                String name = "svc" + s + "-w" + w;
                servedBy.put(name, new AtomicInteger());
                worker(endpoint, "svc" + s, (request, partials) -> {
                    servedBy.get(name).incrementAndGet();
                    partials.send(Body.ofStrings("partial-of", request.string(0)));
                    return Body.ofStrings(request.string(0), name);
                });
            }
        }
        // All workers registered first, so the counters below do not race a late connect.
        assertTrue(waitUntil(() -> {
            for (int s = 0; s < services; s++) {
                ServiceStats stats = stats("svc" + s);
                if (stats == null || stats.workers() < workersPerService) {
                    return false;
                }
            }
            return true;
        }), "every worker registered");
        int clients = 6;
        int requestsPerClient = 60;
        List<CompletableFuture<Void>> runs = new ArrayList<>();
        List<String> mismatches = new CopyOnWriteArrayList<>();
        for (int c = 0; c < clients; c++) {
            int clientNo = c;
            MdpClient client = client(endpoint);
            runs.add(CompletableFuture.runAsync(() -> {
                List<CompletableFuture<Reply>> pending = new ArrayList<>();
                List<String> sent = new ArrayList<>();
                for (int i = 0; i < requestsPerClient; i++) {
                    String payload = "c" + clientNo + "-r" + i;
                    sent.add(payload);
                    pending.add(client.submit("svc" + (i % services), Body.ofStrings(payload)));
                }
                for (int i = 0; i < requestsPerClient; i++) {
                    Reply r = pending.get(i).join();
                    if (!r.finalBody().string(0).equals(sent.get(i))
                            || !r.partials().get(0).string(1).equals(sent.get(i))
                            || !r.finalBody().string(1).startsWith(r.service() + "-")) {
                        mismatches.add(sent.get(i) + " got " + r);
                    }
                }
            }, runnable -> new Thread(runnable).start()));
        }
        CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        assertEquals(List.of(), mismatches);
        int total = servedBy.values().stream().mapToInt(AtomicInteger::get).sum();
        assertEquals(clients * requestsPerClient, total, "every request served exactly once");
        long busyWorkers = servedBy.values().stream().filter(n -> n.get() > 0).count();
        assertTrue(busyWorkers > services, "requests spread over workers: " + servedBy);
        for (int s = 0; s < services; s++) {
            ServiceStats stats = statsOf("svc" + s);
            assertEquals(clients * requestsPerClient / services, stats.served());
            assertEquals(workersPerService, stats.idleWorkers());
            assertEquals(0, stats.queued() + stats.inFlight() + stats.failed());
        }
    }

    @Test
    void inProcessRequests_fromManyThreads_withoutASocketEach() throws Exception {
        startBroker();
        worker(tcpEndpoint(), "double", (request, partials) -> {
            partials.send(Body.ofStrings("working"));
            return Body.ofStrings(request.string(0) + request.string(0));
        });
        worker(tcpEndpoint(), "double", (request, partials) -> {
            partials.send(Body.ofStrings("working"));
            return Body.ofStrings(request.string(0) + request.string(0));
        });
        int threads = 4;
        int perThread = 250;
        Map<String, String> finals = new ConcurrentHashMap<>();
        AtomicInteger partialCount = new AtomicInteger();
        List<RequestFailure> failures = new CopyOnWriteArrayList<>();
        Map<String, Thread> handlerThreads = new ConcurrentHashMap<>();
        CountDownLatch done = new CountDownLatch(threads * perThread);
        List<Thread> submitters = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            submitters.add(new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    String key = thread + ":" + i;
                    broker.submit("double", Body.ofStrings(key), WAIT, new ReplyHandler() {
                        @Override
                        public void onPartial(Body partial) {
                            partialCount.incrementAndGet();
                        }

                        @Override
                        public void onFinal(Body reply) {
                            handlerThreads.put(Thread.currentThread().getName(), Thread.currentThread());
                            finals.put(key, reply.string(0));
                            done.countDown();
                        }

                        @Override
                        public void onFailure(RequestFailure failure) {
                            failures.add(failure);
                            done.countDown();
                        }
                    });
                }
            }));
        }
        submitters.forEach(Thread::start);
        assertTrue(done.await(60, TimeUnit.SECONDS), "replies missing: " + done.getCount());
        assertEquals(List.of(), failures);
        assertEquals(threads * perThread, finals.size());
        finals.forEach((key, value) -> assertEquals(key + key, value));
        assertEquals(threads * perThread, partialCount.get());
        assertEquals(java.util.Set.of("mdp-broker"), handlerThreads.keySet(), "handlers run on the broker thread");
    }

    @Test
    void aClientThatPipelinesHundredsOfRequests_doesNotPutAnotherClientBehindThemAll() throws Exception {
        startBroker();
        List<String> served = new CopyOnWriteArrayList<>();
        worker(tcpEndpoint(), "svc", (request, partials) -> {
            served.add(request.string(0));
            Thread.sleep(2);
            return Body.ofStrings("ok");
        });
        assertTrue(Await.until(() -> mmi("svc").equals("200"), WAIT));
        // Both connected and answered before the burst, so that neither request waits on a handshake.
        ZMQ.Socket greedy = connectedClient();
        ZMQ.Socket other = connectedClient();
        for (int i = 0; i < 200; i++) {
            send(greedy, "MDPC02", b(1), "svc", "greedy-" + i);
        }
        assertTrue(waitUntil(() -> served.size() >= 5), "the greedy client's first requests are served");
        int servedBefore = served.size();
        send(other, "MDPC02", b(1), "svc", "other");
        List<byte[]> reply = receive(other);
        assertEquals(List.of("MDPC02", "\u0003", "svc", "ok"), strings(reply));
        int position = served.indexOf("other");
        // Its turn comes after at most the greedy request then being served and one more; FIFO would
        // have put it after all 200. A margin allows for requests served while it was on its way.
        assertTrue(position - servedBefore < 20, "served " + (position - servedBefore)
                + " greedy requests after the other client's arrived; order: " + served);
    }

    /** A raw client DEALER that has had an 8/MMI answer, so its connection is up. */
    private ZMQ.Socket connectedClient() {
        ZMQ.Socket socket = dealer(tcpEndpoint());
        send(socket, "MDPC02", b(1), "mmi.service", "svc");
        assertEquals(List.of("MDPC02", "\u0003", "mmi.service", "200"), strings(receive(socket)));
        return socket;
    }

    @Test
    void aRequestForAWorkerWhoseConnectionIsGone_goesToAnotherAtOnce_andTheDropIsCounted() throws Exception {
        // Heartbeats so slow that only the undelivered REQUEST can tell the broker the worker is gone.
        startBroker(BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(Duration.ofSeconds(30), 3));
        ZMQ.Socket vanishing = dealer(tcpEndpoint());
        send(vanishing, "MDPW02", b(1), "svc");
        assertTrue(Await.until(() -> mmi("svc").equals("200"), WAIT));
        worker(tcpEndpoint(), "svc", (request, partials) -> Body.ofStrings("from the live one"));
        assertTrue(waitUntil(() -> {
            ServiceStats s = stats("svc");
            return s != null && s.workers() == 2;
        }));
        vanishing.close(); // no DISCONNECT: the broker still counts it as idle, first in line
        Thread.sleep(300); // for the broker's side of the connection to close

        CompletableFuture<String> reply = new CompletableFuture<>();
        broker.submit("svc", Body.ofStrings("x"), Duration.ofSeconds(5), new ReplyHandler() {
            public void onPartial(Body partial) {}
            public void onFinal(Body body) { reply.complete(body.string(0)); }
            public void onFailure(RequestFailure failure) { reply.complete(failure.toString()); }
        });
        assertEquals("from the live one", reply.get(10, TimeUnit.SECONDS));
        ServiceStats s = statsOf("svc");
        assertEquals(1L, s.droppedByReason().values().stream().mapToLong(Long::longValue).sum(), s.toString());
        assertEquals(1, s.workers(), "the worker that cannot be reached is out of service");
    }

    @Test
    void inProcessRequest_withNoWorker_expiresAtItsDeadline() throws Exception {
        startBroker();
        CompletableFuture<RequestFailure> failure = new CompletableFuture<>();
        broker.submit("nobody", Body.ofStrings("x"), Duration.ofMillis(100), failingOnly(failure));
        assertEquals(RequestFailure.Reason.EXPIRED, failure.get(5, TimeUnit.SECONDS).reason());
    }

    @Test
    void inProcessRequest_takenButNotAnswered_failsWithDeadline() throws Exception {
        startBroker();
        CountDownLatch release = new CountDownLatch(1);
        worker(tcpEndpoint(), "stuck", (request, partials) -> {
            release.await();
            return Body.ofStrings("too late");
        });
        assertTrue(Await.until(() -> mmi("stuck").equals("200"), WAIT));
        CompletableFuture<RequestFailure> failure = new CompletableFuture<>();
        broker.submit("stuck", Body.ofStrings("x"), Duration.ofMillis(300), failingOnly(failure));
        assertEquals(RequestFailure.Reason.DEADLINE, failure.get(5, TimeUnit.SECONDS).reason());
        release.countDown();
        assertTrue(waitUntil(() -> {
            ServiceStats s = stats("stuck");
            return s != null && s.idleWorkers() == 1;
        }), "the worker is free again after its late FINAL");
    }

    private ReplyHandler failingOnly(CompletableFuture<RequestFailure> failure) {
        return new ReplyHandler() {
            @Override
            public void onPartial(Body partial) {
                failure.completeExceptionally(new AssertionError("unexpected partial"));
            }

            @Override
            public void onFinal(Body reply) {
                failure.completeExceptionally(new AssertionError("unexpected final " + reply));
            }

            @Override
            public void onFailure(RequestFailure f) {
                failure.complete(f);
            }
        };
    }

    private ServiceStats stats(String service) {
        try {
            return statsOf(service);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Asks mmi.service through the in-process API and returns the status code. */
    private String mmi(String service) {
        CompletableFuture<Body> reply = new CompletableFuture<>();
        broker.submit("mmi.service", Body.ofStrings(service), WAIT, new ReplyHandler() {
            @Override
            public void onPartial(Body partial) {
            }

            @Override
            public void onFinal(Body body) {
                reply.complete(body);
            }

            @Override
            public void onFailure(RequestFailure failure) {
                reply.completeExceptionally(new AssertionError(failure.toString()));
            }
        });
        return reply.join().lastString();
    }

    @Test
    void aNetworkPeerClaimingTheDoorbellsRoutingId_isNotHeard_andInProcessRequestsStillWake() throws Exception {
        startBroker(BrokerConfig.defaults("tcp://127.0.0.1:*"));
        ZMQ.Socket impostor = peers.createSocket(SocketType.DEALER);
        impostor.setLinger(0);
        impostor.setIdentity("mdp-broker-doorbell".getBytes(StandardCharsets.US_ASCII));
        impostor.connect(tcpEndpoint());
        send(impostor, "MDPW02", b(1), "stolen");
        ZMQ.Socket honest = dealer(tcpEndpoint());
        send(honest, "MDPW02", b(1), "honest");
        assertTrue(Await.until(() -> mmi("honest").equals("200"), WAIT));
        assertEquals("404", mmi("stolen"), "the impostor's READY was not taken");
        // The in-process path still wakes the loop at once: a request answered well inside a heartbeat.
        for (int i = 0; i < 20; i++) {
            assertEquals("200", mmi("honest"));
        }
    }

    @Test
    void workerThatDiesHoldingARequest_hasItResentToAnother() throws Exception {
        // Liveness of 20 x 50 ms: long enough that a slow machine cannot bury the doomed worker
        // before it is handed the request, short enough that its death is noticed quickly.
        startBroker(BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(Duration.ofMillis(50), 20));
        ZMQ.Socket doomed = dealer(tcpEndpoint());
        send(doomed, "MDPW02", b(1), "job");
        assertTrue(Await.until(() -> mmi("job").equals("200"), WAIT));
        MdpClient client = client(tcpEndpoint());
        CompletableFuture<Reply> reply = client.submit("job", Body.ofStrings("work"));
        List<byte[]> taken = receive(doomed);
        while (taken != null && taken.size() == 2) { // a heartbeat: answer it, keep waiting
            send(doomed, "MDPW02", b(5));
            taken = receive(doomed);
        }
        assertNotNull(taken);
        assertEquals("work", str(taken, 4));
        doomed.close(); // dies silently, holding the request

        AtomicInteger served = new AtomicInteger();
        closeLater(MdpWorker.builder(tcpEndpoint(), "job").heartbeatInterval(Duration.ofMillis(50))
                .start((request, partials) -> {
                    served.incrementAndGet();
                    return Body.ofStrings("rescued " + request.string(0));
                }));
        assertEquals("rescued work", reply.get(10, TimeUnit.SECONDS).finalBody().string(0));
        assertEquals(1, served.get());
        assertEquals(1, statsOf("job").resent());
    }

    @Test
    void realTimeHeartbeats_keepAWorkerAlive_andSilenceBuriesIt() throws Exception {
        startBroker(BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(Duration.ofMillis(50), 3));
        ZMQ.Socket worker = dealer(tcpEndpoint());
        worker.setReceiveTimeOut(2000);
        send(worker, "MDPW02", b(1), "beat");
        int heartbeats = 0;
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (heartbeats < 5 && System.nanoTime() < end) {
            List<byte[]> msg = receive(worker);
            assertNotNull(msg, "no heartbeat from the broker");
            assertEquals(List.of("MDPW02", "\u0005"), strings(msg));
            heartbeats++;
            send(worker, "MDPW02", b(5));
        }
        assertEquals(5, heartbeats);
        assertEquals("200", mmi("beat"));
        // Now silent: within liveness x interval the broker buries it and stops heartbeating it.
        assertTrue(Await.until(() -> mmi("beat").equals("404"), WAIT));
        worker.setReceiveTimeOut(200);
        List<byte[]> msg;
        while ((msg = receive(worker)) != null) {
            assertEquals(List.of("MDPW02", "\u0005"), strings(msg), "only heartbeats sent before it was buried");
        }
    }

    @Test
    void replyForAClientThatLeft_isDropped_andOthersAreServed() throws Exception {
        startBroker();
        CountDownLatch firstTaken = new CountDownLatch(1);
        CountDownLatch clientGone = new CountDownLatch(1);
        worker(tcpEndpoint(), "svc", (request, partials) -> {
            if (request.string(0).equals("first")) {
                firstTaken.countDown();
                clientGone.await();
            }
            return Body.ofStrings("reply to " + request.string(0));
        });
        ZMQ.Socket leaving = dealer(tcpEndpoint());
        send(leaving, "MDPC02", b(1), "svc", "first");
        assertTrue(firstTaken.await(10, TimeUnit.SECONDS));
        leaving.setLinger(0);
        leaving.close();
        // For the broker's side of the connection to close; until it has, the reply goes into a pipe
        // that is about to be dropped, which JeroMQ does not report. Generous: a loaded machine is slow.
        Thread.sleep(2000);
        clientGone.countDown();
        assertEquals("reply to second", client(tcpEndpoint()).request("svc", Body.ofStrings("second"))
                .finalBody().string(0));
        assertEquals(2, statsOf("svc").served(), "the worker served both");
        // Gone, or still closing, which JeroMQ reports as a full queue: either way one drop.
        assertEquals(1L, statsOf("svc").droppedByReason().values().stream().mapToLong(Long::longValue).sum(),
                "the first reply had nobody to go to: " + statsOf("svc").droppedByReason());
    }

    @Test
    void close_disconnectsWorkers_andFailsInProcessRequests() throws Exception {
        startBroker();
        ZMQ.Socket worker = dealer(tcpEndpoint());
        send(worker, "MDPW02", b(1), "svc");
        assertTrue(Await.until(() -> mmi("svc").equals("200"), WAIT));
        CompletableFuture<RequestFailure> failure = new CompletableFuture<>();
        broker.submit("other", Body.ofStrings("x"), null, failingOnly(failure));
        broker.close();
        assertEquals(RequestFailure.Reason.BROKER_STOPPED, failure.get(5, TimeUnit.SECONDS).reason());
        List<byte[]> msg;
        boolean disconnected = false;
        while (!disconnected && (msg = receive(worker)) != null) {
            disconnected = strings(msg).equals(List.of("MDPW02", "\u0006"));
        }
        assertTrue(disconnected, "the worker got DISCONNECT");
        assertTrue(!broker.isRunning());
        CompletableFuture<RequestFailure> late = new CompletableFuture<>();
        broker.submit("svc", Body.ofStrings("x"), null, failingOnly(late));
        assertEquals(RequestFailure.Reason.BROKER_STOPPED, late.get(5, TimeUnit.SECONDS).reason());
    }

    @Test
    void bindFailure_isReportedAtStart() {
        startBroker();
        String taken = tcpEndpoint();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Broker.start(BrokerConfig.defaults(taken)));
        assertTrue(e.getMessage().contains(taken), e.getMessage());
    }

    @Test
    void garbageFromPeers_doesNotStopTheBroker() throws Exception {
        startBroker();
        ZMQ.Socket junk = dealer(tcpEndpoint());
        send(junk, "hello");
        send(junk, "MDPC02");
        send(junk, "MDPC02", b(1), "svc");
        send(junk, "MDPW02", b(9));
        send(junk, "MDPW02", b(2), "addr", "", "x");
        send(junk, "MDPW02", b(1), "");
        send(junk, new byte[0]);
        worker(tcpEndpoint(), "echo", (request, partials) -> request);
        assertEquals("still fine", client(tcpEndpoint()).request("echo", Body.ofStrings("still fine"))
                .finalBody().string(0));
        Map<String, Integer> seen = new HashMap<>();
        // The junk peer's connection may be one JeroMQ strands until its handshake timer redials it
        // (see MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT), so its DISCONNECT may come late: wait for it.
        List<byte[]> msg = receive(junk);
        assertNotNull(msg, "the valid-but-unexpected REQUEST earns a DISCONNECT");
        junk.setReceiveTimeOut(300);
        for (; msg != null; msg = receive(junk)) {
            seen.merge(strings(msg).toString(), 1, Integer::sum);
        }
        // Only the valid-but-unexpected worker REQUEST earns a DISCONNECT; the rest is dropped.
        assertEquals(Map.of("[MDPW02, \u0006]", 1), seen);
        assertNull(statsOf("svc"));
    }
}
