package org.mdpgateway.mdp.client;

import org.mdpgateway.testing.ManualClock;
import org.mdpgateway.mdp.RawRouterPeer;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mdpgateway.mdp.RawRouterPeer.cmd;

import org.mdpgateway.mdp.Body;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.RawRouterPeer.Received;

class MdpClientIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration QUIET = Duration.ofMillis(300);
    private static final byte[] BINARY = {0, (byte) 0xff, 7};

    private RawRouterPeer broker;
    private final List<MdpClient> clients = new ArrayList<>();

    @BeforeEach
    void startBroker() {
        broker = new RawRouterPeer();
    }

    @AfterEach
    void closeAll() {
        clients.forEach(MdpClient::close);
        broker.close();
    }

    private MdpClient client(MdpClient.Builder builder) {
        MdpClient client = builder.build();
        clients.add(client);
        return client;
    }

    private MdpClient.Builder builder() {
        return MdpClient.builder(broker.endpoint());
    }

    /** Checks a REQUEST as 18/MDP lays it out and returns it. */
    private Received expectRequest(String service, byte[]... body) {
        Received r = broker.expect(WAIT);
        assertEquals(3 + body.length, r.frames().size(), "REQUEST frame count");
        assertEquals("MDPC02", r.string(0));
        assertArrayEquals(cmd(1), r.frames().get(1));
        assertEquals(service, r.string(2));
        for (int i = 0; i < body.length; i++) {
            assertArrayEquals(body[i], r.frames().get(3 + i), "body frame " + i);
        }
        return r;
    }

    @Test
    void blockingRequest_sendsSpecRequestAndReturnsPartialsThenFinal() throws Exception {
        MdpClient client = client(builder());
        CompletableFuture<Reply> reply = CompletableFuture.supplyAsync(
                () -> client.request("echo", Body.of("hi".getBytes(UTF_8), new byte[0], BINARY)));

        Received request = expectRequest("echo", "hi".getBytes(UTF_8), new byte[0], BINARY);
        broker.send(request.identity(), "MDPC02", cmd(2), "echo", "one");
        broker.send(request.identity(), "MDPC02", cmd(2), "echo", "two", new byte[0]);
        broker.send(request.identity(), "MDPC02", cmd(3), "echo", "done", BINARY);

        Reply r = reply.get(5, TimeUnit.SECONDS);
        assertEquals("echo", r.service());
        assertEquals(List.of(Body.ofStrings("one"), Body.of("two".getBytes(UTF_8), new byte[0])), r.partials());
        assertEquals(Body.of("done".getBytes(UTF_8), BINARY), r.finalBody());
        assertEquals(3, r.parts().size());
    }

    @Test
    void streamingListener_getsEachPartialBeforeTheFinalIsSent() throws Exception {
        MdpClient client = client(builder());
        CountDownLatch firstPartial = new CountDownLatch(1);
        List<String> seen = new CopyOnWriteArrayList<>();
        CompletableFuture<Reply> reply = client.submit("stream", Body.ofStrings("go"), WAIT, partial -> {
            seen.add(partial.string(0));
            firstPartial.countDown();
        });

        Received request = expectRequest("stream", "go".getBytes(UTF_8));
        broker.send(request.identity(), "MDPC02", cmd(2), "stream", "p1");
        assertTrue(firstPartial.await(5, TimeUnit.SECONDS), "the PARTIAL must arrive before the FINAL is sent");
        assertTrue(!reply.isDone());
        broker.send(request.identity(), "MDPC02", cmd(2), "stream", "p2");
        broker.send(request.identity(), "MDPC02", cmd(3), "stream", "end");

        Reply r = reply.get(5, TimeUnit.SECONDS);
        assertEquals(List.of("p1", "p2"), seen);
        assertEquals(List.of(), r.partials(), "partials went to the listener");
        assertEquals("end", r.finalBody().string(0));
    }

    @Test
    void blockingStream_handsPartialsToTheCallingThreadInOrder() throws Exception {
        MdpClient client = client(builder());
        List<String> seen = new ArrayList<>();
        Thread[] consumerThread = new Thread[1];
        CompletableFuture<Body> result = new CompletableFuture<>();
        Thread caller = new Thread(() -> result.complete(client.stream("s", Body.ofStrings("x"), p -> {
            consumerThread[0] = Thread.currentThread();
            seen.add(p.string(0));
        })), "stream-caller");
        caller.start();
        Received request = expectRequest("s", "x".getBytes(UTF_8));
        for (int i = 1; i <= 20; i++) {
            broker.send(request.identity(), "MDPC02", cmd(2), "s", "p" + i);
        }
        broker.send(request.identity(), "MDPC02", cmd(3), "s", "fin");
        assertEquals("fin", result.get(5, TimeUnit.SECONDS).string(0));
        assertEquals(20, seen.size());
        for (int i = 1; i <= 20; i++) {
            assertEquals("p" + i, seen.get(i - 1));
        }
        assertEquals(caller, consumerThread[0], "the consumer runs on the calling thread");
    }

    // Retry tests move a fake clock only once the broker has seen each attempt, so a slow TCP
    // connect on this machine cannot eat an attempt.

    @Test
    void noReply_resendsOnNewSocketsThenTimesOut() {
        ManualClock now = new ManualClock();
        MdpClient client = client(builder().ticker(now::nanoTime).timeout(Duration.ofSeconds(2)).attempts(3));
        CompletableFuture<Reply> reply = client.submit("slow", Body.ofStrings("x"));

        Set<String> identities = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            identities.add(expectRequest("slow", "x".getBytes(UTF_8)).identityKey());
            now.advance(Duration.ofSeconds(2));
            client.wakeUp();
        }
        assertEquals(3, identities.size(), "each attempt goes out on a new socket");
        ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(5, TimeUnit.SECONDS));
        RequestTimeoutException timeout = assertInstanceOf(RequestTimeoutException.class, e.getCause());
        assertEquals(3, timeout.attempts());
        assertEquals("slow", timeout.service());
        assertNull(broker.receive(QUIET), "no fourth attempt");
    }

    @Test
    void replyToRetry_completesTheRequest() throws Exception {
        ManualClock now = new ManualClock();
        MdpClient client = client(builder().ticker(now::nanoTime).timeout(Duration.ofSeconds(2)).attempts(3));
        CompletableFuture<Reply> reply = client.submit("flaky", Body.ofStrings("x"));
        Received first = expectRequest("flaky", "x".getBytes(UTF_8));
        now.advance(Duration.ofSeconds(2));
        client.wakeUp();
        Received second = expectRequest("flaky", "x".getBytes(UTF_8));
        assertNotEquals(first.identityKey(), second.identityKey());
        broker.send(first.identity(), "MDPC02", cmd(3), "flaky", "late answer to a closed socket");
        broker.send(second.identity(), "MDPC02", cmd(3), "flaky", "ok");
        assertEquals("ok", reply.get(5, TimeUnit.SECONDS).finalBody().string(0));
    }

    @Test
    void timeoutAfterPartials_failsWithoutResending() throws Exception {
        ManualClock now = new ManualClock();
        MdpClient client = client(builder().ticker(now::nanoTime).timeout(Duration.ofSeconds(2)).attempts(3));
        CountDownLatch partialSeen = new CountDownLatch(1);
        CompletableFuture<Reply> reply = client.submit("half", Body.ofStrings("x"), Duration.ofSeconds(2),
                p -> partialSeen.countDown());
        Received request = expectRequest("half", "x".getBytes(UTF_8));
        broker.send(request.identity(), "MDPC02", cmd(2), "half", "p1");
        assertTrue(partialSeen.await(5, TimeUnit.SECONDS));
        now.advance(Duration.ofSeconds(2));
        client.wakeUp();

        ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(5, TimeUnit.SECONDS));
        RequestTimeoutException timeout = assertInstanceOf(RequestTimeoutException.class, e.getCause());
        assertEquals(1, timeout.attempts());
        assertEquals(1, timeout.partialsReceived());
        assertTrue(timeout.getMessage().contains("not resent"), timeout.getMessage());
        assertNull(broker.receive(QUIET), "a request with output is never resent");
    }

    @Test
    void deadlines_followTheInjectedTicker() throws Exception {
        ManualClock now = new ManualClock();
        MdpClient client = client(builder().ticker(now::nanoTime).timeout(Duration.ofSeconds(30)).attempts(2));
        CompletableFuture<Reply> reply = client.submit("svc", Body.ofStrings("x"));
        Received first = expectRequest("svc", "x".getBytes(UTF_8));

        client.wakeUp();
        assertNull(broker.receive(QUIET), "no resend before the fake clock reaches the deadline");
        now.advance(Duration.ofSeconds(29));
        client.wakeUp();
        assertNull(broker.receive(QUIET), "no resend one second before the deadline");

        now.advance(Duration.ofSeconds(1));
        client.wakeUp();
        Received second = expectRequest("svc", "x".getBytes(UTF_8));
        assertNotEquals(first.identityKey(), second.identityKey());

        now.advance(Duration.ofSeconds(30));
        client.wakeUp();
        ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(5, TimeUnit.SECONDS));
        assertEquals(2, assertInstanceOf(RequestTimeoutException.class, e.getCause()).attempts());
    }

    @Test
    void givenSeveralBrokers_requestsStartOnThemInTurn_andARetryGoesToTheNextBroker() throws Exception {
        RawRouterPeer other = new RawRouterPeer();
        try {
            MdpClient client = client(MdpClient.builder(List.of(broker.endpoint(), other.endpoint()))
                    .timeout(Duration.ofMillis(1500)).attempts(2));
            // Asynchronous: the first request starts on the first broker, which stays silent.
            CompletableFuture<Reply> first = client.submit("echo", Body.ofStrings("one"));
            Received silent = expectRequest("echo", "one".getBytes(UTF_8));
            assertNotNull(silent);
            Received retried = other.expect(WAIT);
            assertEquals("one", retried.string(3), "the resend went to the other broker");
            other.send(retried.identity(), "MDPC02", cmd(3), "echo", "from other");
            assertEquals("from other", first.get(5, TimeUnit.SECONDS).finalBody().string(0));
            // The next request starts on the other broker.
            CompletableFuture<Reply> second = client.submit("echo", Body.ofStrings("two"));
            Received onOther = other.expect(WAIT);
            assertEquals("two", onOther.string(3));
            other.send(onOther.identity(), "MDPC02", cmd(3), "echo", "ok");
            assertEquals("ok", second.get(5, TimeUnit.SECONDS).finalBody().string(0));
            assertNull(broker.receive(QUIET), "nothing more on the first broker");

            // Blocking calls fail over the same way: this one starts on the first broker again.
            CompletableFuture<Reply> blocking = CompletableFuture.supplyAsync(
                    () -> client.request("echo", Body.ofStrings("three")));
            Received ignored = broker.expect(WAIT);
            assertEquals("three", ignored.string(3));
            Received again = other.expect(WAIT);
            other.send(again.identity(), "MDPC02", cmd(3), "echo", "blocking ok");
            assertEquals("blocking ok", blocking.get(5, TimeUnit.SECONDS).finalBody().string(0));
        } finally {
            other.close();
        }
    }

    @Test
    void aSocketThatCannotBeOpened_failsItsOneRequest_andTheClientServesTheRest() throws Exception {
        // A context that holds few sockets stands in for a process out of file descriptors.
        try (org.zeromq.ZContext small = new org.zeromq.ZContext()) {
            small.getContext().setMaxSockets(3);
            MdpClient client = client(builder().context(small).timeout(WAIT).attempts(1));
            List<CompletableFuture<Reply>> futures = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                futures.add(client.submit("echo", Body.ofStrings("req-" + i)));
            }
            List<Received> requests = new ArrayList<>();
            Received r;
            while ((r = broker.receive(QUIET)) != null) {
                requests.add(r);
            }
            assertTrue(!requests.isEmpty() && requests.size() < 5, requests.size() + " requests reached the broker");
            for (Received req : requests) {
                broker.send(req.identity(), "MDPC02", cmd(3), "echo", "reply-" + req.string(3));
            }
            int answered = 0;
            int refused = 0;
            for (CompletableFuture<Reply> f : futures) {
                try {
                    Reply reply = f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                    assertTrue(reply.finalBody().string(0).startsWith("reply-req-"));
                    answered++;
                } catch (ExecutionException e) {
                    assertInstanceOf(org.mdpgateway.mdp.MdpException.class, e.getCause());
                    assertTrue(e.getCause().getMessage().contains("cannot open a socket"), e.getCause().getMessage());
                    refused++;
                }
            }
            assertEquals(requests.size(), answered);
            assertEquals(5 - requests.size(), refused);
            // Sockets freed by the answers serve the next request.
            CompletableFuture<Reply> later = client.submit("echo", Body.ofStrings("later"));
            Received req = broker.expect(WAIT);
            broker.send(req.identity(), "MDPC02", cmd(3), "echo", "done");
            assertEquals("done", later.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).finalBody().string(0));
            client.close();
        }
    }

    @Test
    void manyThreads_eachGetTheirOwnReply_withOneRequestPerSocket() throws Exception {
        MdpClient client = client(builder().timeout(Duration.ofSeconds(10)).attempts(1));
        int requests = 200;
        List<CompletableFuture<Reply>> futures = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int thread = t;
            Thread th = new Thread(() -> {
                for (int i = thread; i < requests; i += 8) {
                    CompletableFuture<Reply> f = client.submit("echo", Body.ofStrings("req-" + i));
                    synchronized (futures) {
                        futures.add(f);
                    }
                }
            });
            threads.add(th);
            th.start();
        }
        // Answer in an order other than arrival, checking that no socket has two requests outstanding.
        Map<String, Received> outstanding = new HashMap<>();
        int answered = 0;
        long silentSince = System.nanoTime();
        while (answered < requests) {
            Received r = broker.receive(Duration.ofMillis(50));
            if (r != null) {
                assertNull(outstanding.put(r.identityKey(), r), "second request on one socket before its FINAL");
                silentSince = System.nanoTime();
                continue;
            }
            if (outstanding.isEmpty()) {
                assertTrue(System.nanoTime() - silentSince < WAIT.toNanos(), "requests stopped after " + answered);
                continue;
            }
            List<Received> batch = new ArrayList<>(outstanding.values());
            outstanding.clear();
            for (int i = batch.size() - 1; i >= 0; i--) {
                Received req = batch.get(i);
                broker.send(req.identity(), "MDPC02", cmd(2), "echo", "partial-" + req.string(3));
                broker.send(req.identity(), "MDPC02", cmd(3), "echo", "reply-" + req.string(3));
                answered++;
            }
        }
        for (Thread th : threads) {
            th.join();
        }
        assertEquals(requests, futures.size());
        for (CompletableFuture<Reply> f : futures) {
            Reply r = f.get(5, TimeUnit.SECONDS);
            String id = r.finalBody().string(0).substring("reply-".length());
            assertEquals("partial-" + id, r.partials().get(0).string(0));
        }
        Set<String> distinct = new HashSet<>();
        for (CompletableFuture<Reply> f : futures) {
            assertTrue(distinct.add(f.get().finalBody().string(0)), "each request got its own reply");
        }
    }

    @Test
    void maxInFlight_holdsBackRequestsBeyondTheCap() throws Exception {
        MdpClient client = client(builder().maxInFlight(2).timeout(Duration.ofSeconds(10)));
        List<CompletableFuture<Reply>> futures = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            futures.add(client.submit("capped", Body.ofStrings("r" + i)));
        }
        Received a = broker.expect(WAIT);
        Received b = broker.expect(WAIT);
        assertNull(broker.receive(QUIET), "a third request while two are in flight");
        assertEquals(Set.of("r0", "r1"), Set.of(a.string(3), b.string(3)), "in submission order");
        broker.send(a.identity(), "MDPC02", cmd(3), "capped", "ok");
        Received c = broker.expect(WAIT);
        assertEquals("r2", c.string(3));
        broker.send(b.identity(), "MDPC02", cmd(3), "capped", "ok");
        broker.send(c.identity(), "MDPC02", cmd(3), "capped", "ok");
        for (int i = 0; i < 2; i++) {
            Received next = broker.expect(WAIT);
            broker.send(next.identity(), "MDPC02", cmd(3), "capped", "ok");
        }
        for (CompletableFuture<Reply> f : futures) {
            assertEquals("ok", f.get(5, TimeUnit.SECONDS).finalBody().string(0));
        }
    }

    @Test
    void wrongServiceAndMalformedReplies_areDropped() throws Exception {
        MdpClient client = client(builder());
        CompletableFuture<Reply> reply = client.submit("right", Body.ofStrings("x"));
        Received request = expectRequest("right", "x".getBytes(UTF_8));
        broker.send(request.identity(), "MDPC02", cmd(3), "wrong", "not for us");
        broker.send(request.identity(), "GARBAGE", cmd(3), "right", "bad header");
        broker.send(request.identity(), "MDPC02", cmd(9), "right", "bad command");
        broker.send(request.identity(), "MDPC02", cmd(3), "right");
        broker.send(request.identity(), "MDPC02", cmd(1), "right", "a REQUEST is not a reply");
        broker.send(request.identity(), "MDPC02", cmd(3), "right", "good");
        Reply r = reply.get(5, TimeUnit.SECONDS);
        assertEquals("good", r.finalBody().string(0));
        assertEquals(List.of(), r.partials());
    }

    @Test
    void cancelledRequest_releasesItsSocketAndOthersGoOn() throws Exception {
        MdpClient client = client(builder().timeout(Duration.ofSeconds(10)));
        CompletableFuture<Reply> cancelled = client.submit("svc", Body.ofStrings("a"));
        Received first = expectRequest("svc", "a".getBytes(UTF_8));
        assertTrue(cancelled.cancel(true));

        CompletableFuture<Reply> next = client.submit("svc", Body.ofStrings("b"));
        Received second = expectRequest("svc", "b".getBytes(UTF_8));
        assertNotEquals(first.identityKey(), second.identityKey(), "a cancelled request's socket is not reused");
        broker.send(first.identity(), "MDPC02", cmd(3), "svc", "late");
        broker.send(second.identity(), "MDPC02", cmd(3), "svc", "b-reply");
        assertEquals("b-reply", next.get(5, TimeUnit.SECONDS).finalBody().string(0));
    }

    @Test
    void finishedRequest_socketIsReused() throws Exception {
        MdpClient client = client(builder());
        CompletableFuture<Reply> one = client.submit("svc", Body.ofStrings("a"));
        Received first = expectRequest("svc", "a".getBytes(UTF_8));
        broker.send(first.identity(), "MDPC02", cmd(3), "svc", "ok");
        one.get(5, TimeUnit.SECONDS);
        CompletableFuture<Reply> two = client.submit("svc", Body.ofStrings("b"));
        Received second = expectRequest("svc", "b".getBytes(UTF_8));
        assertEquals(first.identityKey(), second.identityKey());
        broker.send(second.identity(), "MDPC02", cmd(3), "svc", "ok");
        two.get(5, TimeUnit.SECONDS);
    }

    @Test
    void closedClient_failsInFlightAndNewRequests() {
        MdpClient client = client(builder().timeout(Duration.ofSeconds(10)));
        CompletableFuture<Reply> inFlight = client.submit("svc", Body.ofStrings("a"));
        expectRequest("svc", "a".getBytes(UTF_8));
        client.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> inFlight.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ClientClosedException.class, e.getCause());
        assertThrows(ClientClosedException.class, () -> client.request("svc", Body.ofStrings("b")));
    }

    @Test
    void realTimeTimeout_throwsFromTheBlockingCall() {
        MdpClient client = client(builder().timeout(Duration.ofMillis(50)).attempts(2));
        RequestTimeoutException e = assertThrows(RequestTimeoutException.class,
                () -> client.request("nobody", Body.ofStrings("x")));
        assertTrue(e.getMessage().contains("'nobody'") && e.getMessage().contains("2 attempts"), e.getMessage());
    }
}
