package org.mdpgateway.mdp.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mdpgateway.mdp.RawRouterPeer.cmd;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.RawRouterPeer;
import org.mdpgateway.mdp.RawRouterPeer.Received;
import org.mdpgateway.testing.Await;

/**
 * One worker on several brokers: raw ROUTER sockets, frame by frame, play the brokers. Each gets its
 * own READY and heartbeats, requests from all of them share the worker's handlers, one broker going
 * away leaves the others served, and brokers found by DNS come and go as the name's addresses do.
 */
class MdpWorkerBrokersIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration HEARTBEAT = Duration.ofMillis(100);
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private RawRouterPeer broker() {
        RawRouterPeer b = new RawRouterPeer();
        closeables.add(b);
        return b;
    }

    private MdpWorker start(MdpWorker.Builder builder, RequestHandler handler) {
        MdpWorker w = builder.heartbeatInterval(HEARTBEAT).liveness(50).start(handler);
        closeables.add(w);
        return w;
    }

    /** The worker's READY on {@code broker}, skipping heartbeats; its routing id. */
    private static byte[] expectReady(RawRouterPeer broker, String service) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            Received r = broker.receive(Duration.ofMillis(100));
            if (r != null && r.frames().get(1)[0] == 1) {
                assertEquals("MDPW02", r.string(0));
                assertEquals(service, r.string(2));
                return r.identity();
            }
        }
        throw new AssertionError("no READY on " + broker.endpoint());
    }

    /** The next PARTIAL or FINAL from the worker on {@code broker}, skipping heartbeats. */
    private static Received expectReply(RawRouterPeer broker) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            Received r = broker.receive(Duration.ofMillis(100));
            if (r != null && r.frames().get(1)[0] != 5) {
                return r;
            }
        }
        throw new AssertionError("no reply on " + broker.endpoint());
    }

    private static void request(RawRouterPeer broker, byte[] worker, String client, String body) {
        broker.send(worker, "MDPW02", cmd(2), client, "", body);
    }

    @Test
    void oneReadyPerBroker_andRequestsFromEachAreServedAtOnce_withinMaxInFlight() throws Exception {
        RawRouterPeer a = broker();
        RawRouterPeer b = broker();
        CountDownLatch bothInside = new CountDownLatch(2);
        MdpWorker worker = start(MdpWorker.builder(List.of(a.endpoint(), b.endpoint()), "svc").maxInFlight(2),
                (request, partials) -> {
                    bothInside.countDown();
                    assertTrue(bothInside.await(5, TimeUnit.SECONDS), "both requests run at once");
                    return Body.ofStrings("done " + request.string(0));
                });
        byte[] onA = expectReady(a, "svc");
        byte[] onB = expectReady(b, "svc");
        request(a, onA, "client-a", "one");
        request(b, onB, "client-b", "two");
        Received fromA = expectReply(a);
        Received fromB = expectReply(b);
        assertEquals(List.of("MDPW02", "\u0004", "client-a", "", "done one"), strings(fromA));
        assertEquals(List.of("MDPW02", "\u0004", "client-b", "", "done two"), strings(fromB));
        assertEquals(2, worker.connections().size());
        assertTrue(worker.connections().stream().allMatch(MdpWorker.ConnectionState::heard));
    }

    @Test
    void withOneHandler_aSecondBrokersRequestWaitsForIt_andBothAreAnswered() {
        RawRouterPeer a = broker();
        RawRouterPeer b = broker();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger mostAtOnce = new AtomicInteger();
        start(MdpWorker.builder(List.of(a.endpoint(), b.endpoint()), "svc"), (request, partials) -> {
            mostAtOnce.accumulateAndGet(inside.incrementAndGet(), Math::max);
            Thread.sleep(100);
            inside.decrementAndGet();
            return request;
        });
        byte[] onA = expectReady(a, "svc");
        byte[] onB = expectReady(b, "svc");
        request(a, onA, "ca", "x");
        request(b, onB, "cb", "y");
        assertEquals("x", strings(expectReply(a)).get(4));
        assertEquals("y", strings(expectReply(b)).get(4));
        assertEquals(1, mostAtOnce.get(), "maxInFlight 1: one at a time across brokers");
    }

    @Test
    void aBrokerThatGoesAway_leavesTheOthersServed_andItsConnectionIsRemadeOnItsOwn() throws Exception {
        RawRouterPeer a = broker();
        RawRouterPeer b = broker();
        MdpWorker worker = start(MdpWorker.builder(List.of(a.endpoint(), b.endpoint()), "svc")
                .reconnectDelay(Duration.ofMillis(50)), (request, partials) -> request);
        byte[] onA = expectReady(a, "svc");
        byte[] onB = expectReady(b, "svc");
        // a says DISCONNECT: that connection alone starts over.
        a.send(onA, "MDPW02", cmd(6));
        byte[] again = expectReady(a, "svc");
        assertNotNull(again);
        request(b, onB, "cb", "still here");
        assertEquals("still here", strings(expectReply(b)).get(4));
        MdpWorker.ConnectionState stateA = worker.connections().get(0);
        MdpWorker.ConnectionState stateB = worker.connections().get(1);
        assertEquals(2, stateA.connects(), "a was connected to twice");
        assertEquals(1, stateB.connects(), "b's connection was not touched");
    }

    @Test
    void brokersFoundByDns_areJoinedWhenTheyAppear_andLeftWhenTheyVanish() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        RawRouterPeer one = new RawRouterPeer("127.0.0.1", port);
        closeables.add(one);
        RawRouterPeer two = new RawRouterPeer("127.0.0.2", port);
        closeables.add(two);
        AtomicReference<List<InetAddress>> addresses =
                new AtomicReference<>(List.of(InetAddress.getByName("127.0.0.1")));
        MdpWorker worker = start(MdpWorker.builder("tcp://brokers.example:" + port, "svc")
                .resolveBrokers(Duration.ofMillis(100)).resolver(host -> {
                    assertEquals("brokers.example", host);
                    return addresses.get();
                }), (request, partials) -> request);
        expectReady(one, "svc");
        addresses.set(List.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("127.0.0.2")));
        byte[] onTwo = expectReady(two, "svc");
        assertTrue(Await.until(() -> worker.connections().size() == 2, WAIT));
        addresses.set(List.of(InetAddress.getByName("127.0.0.2")));
        // The vanished broker is told, and left.
        long end = System.nanoTime() + WAIT.toNanos();
        boolean disconnected = false;
        while (!disconnected && System.nanoTime() < end) {
            Received r = one.receive(Duration.ofMillis(100));
            disconnected = r != null && r.frames().get(1)[0] == 6;
        }
        assertTrue(disconnected, "DISCONNECT to the broker whose address went away");
        assertEquals(List.of("tcp://127.0.0.2:" + port),
                worker.connections().stream().map(MdpWorker.ConnectionState::endpoint).toList());
        request(two, onTwo, "c", "hi");
        assertEquals("hi", strings(expectReply(two)).get(4));
    }

    @Test
    void aFailedLookup_keepsTheBrokersFoundBefore() throws Exception {
        RawRouterPeer one = broker();
        int port = Integer.parseInt(one.endpoint().replaceAll(".*:", ""));
        AtomicReference<Boolean> dnsDown = new AtomicReference<>(false);
        MdpWorker worker = start(MdpWorker.builder("tcp://brokers.example:" + port, "svc")
                .resolveBrokers(Duration.ofMillis(50)).resolver(host -> {
                    if (dnsDown.get()) {
                        throw new java.net.UnknownHostException(host + ": the DNS server is restarting");
                    }
                    return List.of(InetAddress.getByName("127.0.0.1"));
                }), (request, partials) -> request);
        byte[] id = expectReady(one, "svc");
        dnsDown.set(true);
        Thread.sleep(500); // ten failed lookups
        assertEquals(1, worker.connections().size(), "the broker found before is kept");
        request(one, id, "c", "still served");
        Received reply = expectReply(one);
        assertEquals("still served", strings(reply).get(4), "and still served on the same connection");
    }

    @Test
    void aBrokerWhoseSocketCannotBeOpened_isTriedAgainLater_andTheOthersAreServed() throws Exception {
        RawRouterPeer a = broker();
        RawRouterPeer b = broker();
        // A context with room for one socket stands in for a process out of file descriptors.
        try (org.zeromq.ZContext small = new org.zeromq.ZContext()) {
            small.getContext().setMaxSockets(1);
            MdpWorker worker = start(MdpWorker.builder(List.of(a.endpoint(), b.endpoint()), "svc").context(small)
                    .reconnectDelay(Duration.ofMillis(50)), (request, partials) -> request);
            byte[] onA = expectReady(a, "svc");
            request(a, onA, "c", "served");
            assertEquals("served", strings(expectReply(a)).get(4));
            assertNull(b.receive(Duration.ofMillis(300)), "no socket for b");
            List<MdpWorker.ConnectionState> states = worker.connections();
            assertEquals(List.of(true, false), states.stream().map(MdpWorker.ConnectionState::heard).toList());
            worker.close();
        }
    }

    private static List<String> strings(Received r) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < r.frames().size(); i++) {
            out.add(r.string(i));
        }
        return out;
    }
}
