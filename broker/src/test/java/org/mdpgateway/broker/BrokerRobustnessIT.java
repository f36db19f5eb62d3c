package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.Reply;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The broker and its peers under hostile timing: interrupted callers, close races, throwing handlers, bursts. */
class BrokerRobustnessIT {

    private static final ReplyHandler IGNORE = new ReplyHandler() {
        public void onPartial(Body partial) {}
        public void onFinal(Body reply) {}
        public void onFailure(RequestFailure failure) {}
    };

    private static Thread thread(String name) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals(name)).findFirst().orElseThrow();
    }

    private static long cpuMillisOver(Thread t, long millis) throws InterruptedException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long before = mx.getThreadCpuTime(t.getId());
        Thread.sleep(millis);
        return TimeUnit.NANOSECONDS.toMillis(mx.getThreadCpuTime(t.getId()) - before);
    }

    /** one submit from an interrupted thread makes the idle broker loop spin for good. */
    @Test
    void submitFromInterruptedThread_doesNotMakeBrokerLoopSpin() throws Exception {
        try (Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"))) {
            Thread loop = thread("mdp-broker");
            long idle = cpuMillisOver(loop, 1000);
            Thread.currentThread().interrupt();
            broker.submit("mmi.service", Body.ofStrings("echo"), Duration.ofSeconds(1), IGNORE);
            Thread.interrupted();
            long after = cpuMillisOver(loop, 1000);
            assertTrue(after < 200, "broker loop burnt " + after + " ms CPU in 1 s (idle before: " + idle + " ms)");
        }
    }

    /** submit() racing close() can steal the loop's Stop; the loop then never ends. */
    @Test
    void submitRacingClose_neverLeavesTheLoopRunning() throws Exception {
        for (int round = 0; round < 30; round++) {
            Broker broker = Broker.start(BrokerConfig.defaults("inproc://race-" + round));
            CountDownLatch release = new CountDownLatch(1);
            // Park the loop thread in a handler so Stop stays queued for a while.
            broker.submit("mmi.service", Body.ofStrings("x"), null, new ReplyHandler() {
                public void onPartial(Body partial) {}
                public void onFinal(Body reply) {
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                public void onFailure(RequestFailure failure) {}
            });
            AtomicBoolean go = new AtomicBoolean();
            List<Thread> submitters = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Thread t = new Thread(() -> {
                    while (!go.get()) {
                        Thread.onSpinWait();
                    }
                    while (broker.isRunning()) {
                        broker.submit("svc", Body.ofStrings("x"), null, IGNORE);
                    }
                    // a few more after close, as callers that lost the race do
                    for (int k = 0; k < 100; k++) {
                        broker.submit("svc", Body.ofStrings("x"), null, IGNORE);
                    }
                });
                t.start();
                submitters.add(t);
            }
            go.set(true);
            Thread closer = new Thread(broker::close);
            closer.start();
            for (Thread t : submitters) {
                t.join();
            }
            release.countDown();
            closer.join();
            Thread.sleep(200);
            boolean loopAlive = Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().equals("mdp-broker") && t.isAlive());
            assertFalse(loopAlive, "round " + round + ": broker closed, but its loop thread still runs");
        }
    }

    /** One frame past --max-message-bytes: its sender is cut off before it is buffered; others go on. */
    @Test
    void aMessagePastTheMaxMessageBytes_isNeverDelivered_andTheBrokerServesOthers() throws Exception {
        BrokerConfig config = BrokerConfig.defaults("tcp://127.0.0.1:*").withByteLimits(1 << 20, 16 << 20);
        try (Broker broker = Broker.start(config);
                org.zeromq.ZContext context = new org.zeromq.ZContext(1)) {
            String endpoint = broker.boundEndpoints().get(0);
            List<Integer> sizesSeen = java.util.Collections.synchronizedList(new ArrayList<>());
            try (MdpWorker worker = MdpWorker.builder(endpoint, "svc").start((request, partials) -> {
                        sizesSeen.add(request.frame(0).length);
                        return Body.ofStrings("ok");
                    });
                    MdpClient client = MdpClient.builder(endpoint).timeout(Duration.ofSeconds(2)).attempts(3).build()) {
                assertEquals("ok", client.request("svc", Body.ofStrings("warm")).finalBody().string(0));

                // Frame by frame, as a peer that knows nothing of our libraries would.
                org.zeromq.ZMQ.Socket big = context.createSocket(org.zeromq.SocketType.DEALER);
                big.setLinger(0);
                big.connect(endpoint);
                big.sendMore("MDPC02");
                big.sendMore(new byte[] {1});
                big.sendMore("svc");
                big.send(new byte[(1 << 20) + 1]);
                // Just under the limit, in all, goes through.
                byte[] fits = new byte[(1 << 20) - 64];
                Reply reply = client.request("svc", Body.of(fits));
                assertEquals("ok", reply.finalBody().string(0));
                Thread.sleep(300); // room for the oversized one to arrive, if the broker took it
                assertEquals(List.of(4, fits.length), sizesSeen, "the worker saw the warm-up and the one that fits");
            }
        }
    }

    /** a handler that throws an Error (assert, StackOverflowError) wedges the worker. */
    @Test
    void handlerThrowingError_doesNotWedgeWorker() throws Exception {
        try (Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"))) {
            String endpoint = broker.boundEndpoints().get(0);
            AtomicInteger calls = new AtomicInteger();
            try (MdpWorker worker = MdpWorker.builder(endpoint, "flaky").start((request, partials) -> {
                        if (calls.incrementAndGet() == 1) {
                            throw new AssertionError("bug in handler");
                        }
                        return Body.ofStrings("ok");
                    });
                    MdpClient client = MdpClient.builder(endpoint).timeout(Duration.ofSeconds(2)).attempts(3).build()) {
                Reply reply = client.request("flaky", Body.ofStrings("hi"));
                assertEquals("ok", reply.finalBody().string(0));
            }
        }
    }

    /** a burst of PARTIALs overflows a send HWM and output (even the FINAL) is dropped silently. */
    @Test
    void burstOfPartials_allReachTheClient() throws Exception {
        int n = 20_000;
        try (Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"))) {
            String endpoint = broker.boundEndpoints().get(0);
            try (MdpWorker worker = MdpWorker.builder(endpoint, "burst").start((request, partials) -> {
                        for (int i = 0; i < n; i++) {
                            partials.send(Body.ofStrings("p" + i));
                        }
                        return Body.ofStrings("done");
                    });
                    MdpClient client = MdpClient.builder(endpoint).timeout(Duration.ofSeconds(10)).attempts(1).build()) {
                AtomicInteger seen = new AtomicInteger();
                Body fin = client.stream("burst", Body.ofStrings("go"), p -> seen.incrementAndGet());
                assertEquals("done", fin.string(0));
                assertEquals(n, seen.get());
            }
        }
    }

    /** worker side: the in-process path has no client socket, so losses here are the worker's. */
    @Test
    void burstOfPartials_allReachTheBroker() throws Exception {
        int n = 20_000;
        try (Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"))) {
            String endpoint = broker.boundEndpoints().get(0);
            try (MdpWorker worker = MdpWorker.builder(endpoint, "burst").start((request, partials) -> {
                        for (int i = 0; i < n; i++) {
                            partials.send(Body.ofStrings("p" + i));
                        }
                        return Body.ofStrings("done");
                    })) {
                AtomicInteger seen = new AtomicInteger();
                java.util.concurrent.CompletableFuture<String> fin = new java.util.concurrent.CompletableFuture<>();
                broker.submit("burst", Body.ofStrings("go"), Duration.ofSeconds(10), new ReplyHandler() {
                    public void onPartial(Body partial) { seen.incrementAndGet(); }
                    public void onFinal(Body reply) { fin.complete(reply.string(0)); }
                    public void onFailure(RequestFailure failure) { fin.complete(failure.toString()); }
                });
                assertEquals("done", fin.get(15, TimeUnit.SECONDS));
                assertEquals(n, seen.get());
            }
        }
    }
}
