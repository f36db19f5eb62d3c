package org.mdpgateway.mdp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mdpgateway.mdp.RawRouterPeer.cmd;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.RawRouterPeer;
import org.mdpgateway.mdp.RawRouterPeer.Received;
import org.mdpgateway.testing.Await;

/**
 * A client given its brokers as one DNS name: raw ROUTER sockets on 127.0.0.1 and 127.0.0.2, on one
 * port, play the brokers behind a fake name that the test's resolver answers.
 */
class MdpClientBrokersIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration QUIET = Duration.ofMillis(300);
    private static final String NAME = "brokers.example";

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket free = new ServerSocket(0)) {
            return free.getLocalPort();
        }
    }

    private RawRouterPeer broker(String host, int port) {
        RawRouterPeer peer = new RawRouterPeer(host, port);
        closeables.add(peer);
        return peer;
    }

    private static List<InetAddress> addresses(String... hosts) throws Exception {
        List<InetAddress> list = new ArrayList<>();
        for (String host : hosts) {
            list.add(InetAddress.getByName(host));
        }
        return list;
    }

    /** Answers whichever broker got the request, and says which one it was. */
    private static RawRouterPeer answer(String body, RawRouterPeer... brokers) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            for (RawRouterPeer broker : brokers) {
                Received r = broker.receive(Duration.ofMillis(20));
                if (r != null) {
                    assertEquals(body, r.string(3));
                    broker.send(r.identity(), "MDPC02", cmd(3), "echo", "re:" + body);
                    return broker;
                }
            }
        }
        throw new AssertionError("no broker got " + body);
    }

    @Test
    void brokersFoundByDns_requestsAndRetriesRotateOverEveryAddress_andFollowTheName() throws Exception {
        int port = freePort();
        RawRouterPeer one = broker("127.0.0.1", port);
        RawRouterPeer two = broker("127.0.0.2", port);
        AtomicReference<List<InetAddress>> found = new AtomicReference<>(addresses("127.0.0.1"));
        MdpClient client = MdpClient.builder("tcp://" + NAME + ":" + port)
                .timeout(Duration.ofMillis(1500)).attempts(2)
                .resolveBrokers(Duration.ofMillis(100)).resolver(host -> {
                    assertEquals(NAME, host);
                    return found.get();
                }).build();
        closeables.add(client);

        // One address: every request goes to it.
        for (int i = 0; i < 3; i++) {
            CompletableFuture<Reply> reply = client.submit("echo", Body.ofStrings("only-" + i));
            assertEquals(one, answer("only-" + i, one, two));
            assertEquals("re:only-" + i, reply.get(5, TimeUnit.SECONDS).finalBody().string(0));
        }

        // The name gains an address: requests now start on both in turn.
        found.set(addresses("127.0.0.1", "127.0.0.2"));
        boolean reachedTwo = false;
        long end = System.nanoTime() + WAIT.toNanos();
        for (int i = 0; !reachedTwo && System.nanoTime() < end; i++) {
            CompletableFuture<Reply> reply = client.submit("echo", Body.ofStrings("grow-" + i));
            reachedTwo = answer("grow-" + i, one, two) == two;
            reply.get(5, TimeUnit.SECONDS);
        }
        assertTrue(reachedTwo, "no request reached the address the name gained");
        List<RawRouterPeer> turns = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            CompletableFuture<Reply> reply = client.submit("echo", Body.ofStrings("turn-" + i));
            turns.add(answer("turn-" + i, one, two));
            reply.get(5, TimeUnit.SECONDS);
        }
        assertTrue(turns.get(0) != turns.get(1) && turns.get(1) != turns.get(2) && turns.get(2) != turns.get(3),
                "requests start on the brokers in turn");

        // A resend goes to the other address: asynchronous, then blocking.
        CompletableFuture<Reply> retried = client.submit("echo", Body.ofStrings("retry"));
        assertRetriedOnTheOther(one, two, "retry");
        assertEquals("re:retry", retried.get(5, TimeUnit.SECONDS).finalBody().string(0));
        CompletableFuture<Reply> blocking = CompletableFuture.supplyAsync(
                () -> client.request("echo", Body.ofStrings("blocking")));
        assertRetriedOnTheOther(one, two, "blocking");
        assertEquals("re:blocking", blocking.get(5, TimeUnit.SECONDS).finalBody().string(0));

        // The name loses an address: requests, blocking ones too, go to the one left.
        found.set(addresses("127.0.0.2"));
        int inARowOnTwo = 0;
        end = System.nanoTime() + WAIT.toNanos();
        for (int i = 0; inARowOnTwo < 4 && System.nanoTime() < end; i++) {
            CompletableFuture<Reply> reply = client.submit("echo", Body.ofStrings("shrink-" + i));
            inARowOnTwo = answer("shrink-" + i, one, two) == two ? inARowOnTwo + 1 : 0;
            reply.get(5, TimeUnit.SECONDS);
        }
        assertEquals(4, inARowOnTwo, "requests still went to the address the name lost");
        for (int i = 0; i < 4; i++) {
            String body = "left-" + i;
            CompletableFuture<Reply> reply = i % 2 == 0 ? client.submit("echo", Body.ofStrings(body))
                    : CompletableFuture.supplyAsync(() -> client.request("echo", Body.ofStrings(body)));
            assertEquals(two, answer(body, two));
            assertEquals("re:" + body, reply.get(5, TimeUnit.SECONDS).finalBody().string(0));
        }
        assertNull(one.receive(QUIET), "nothing more on the address that went away");
    }

    /** The request's first attempt reaches one broker, which stays silent; its resend must reach the other. */
    private static void assertRetriedOnTheOther(RawRouterPeer one, RawRouterPeer two, String body) {
        RawRouterPeer first = firstAttempt(body, one, two);
        RawRouterPeer other = first == one ? two : one;
        Received resent = other.expect(WAIT);
        assertEquals(body, resent.string(3), "the resend went to the other address");
        other.send(resent.identity(), "MDPC02", cmd(3), "echo", "re:" + body);
    }

    @Test
    void aNameThatResolvesToNothing_isUsedAsGiven_untilItResolves() throws Exception {
        int port = freePort();
        RawRouterPeer one = broker("127.0.0.1", port);
        RawRouterPeer two = broker("127.0.0.2", port);
        AtomicReference<List<InetAddress>> found = new AtomicReference<>(List.of());
        // localhost: a name, so it is looked up, that ZeroMQ itself can also resolve (to 127.0.0.1).
        MdpClient client = MdpClient.builder("tcp://localhost:" + port).timeout(Duration.ofMillis(1500))
                .resolveBrokers(Duration.ofMillis(100)).resolver(host -> found.get()).build();
        closeables.add(client);
        assertEquals(List.of("tcp://localhost:" + port), client.brokers());
        CompletableFuture<Reply> reply = client.submit("echo", Body.ofStrings("as given"));
        assertEquals(one, answer("as given", one, two));
        assertEquals("re:as given", reply.get(5, TimeUnit.SECONDS).finalBody().string(0));
        found.set(addresses("127.0.0.2"));
        assertTrue(Await.until(() -> client.brokers().equals(List.of("tcp://127.0.0.2:" + port)), WAIT));
        CompletableFuture<Reply> later = client.submit("echo", Body.ofStrings("resolved"));
        assertEquals(two, answer("resolved", one, two));
        assertEquals("re:resolved", later.get(5, TimeUnit.SECONDS).finalBody().string(0));
    }

    @Test
    void aResendGoesToTheOtherBroker_evenWhenDnsHandsTheAddressesOutInAnotherOrder() throws Exception {
        int port = freePort();
        RawRouterPeer one = broker("127.0.0.1", port);
        RawRouterPeer two = broker("127.0.0.2", port);
        AtomicBoolean reversed = new AtomicBoolean();
        AtomicInteger lookups = new AtomicInteger();
        List<InetAddress> inOrder = addresses("127.0.0.1", "127.0.0.2");
        List<InetAddress> backwards = addresses("127.0.0.2", "127.0.0.1");
        MdpClient client = MdpClient.builder("tcp://" + NAME + ":" + port)
                .timeout(Duration.ofMillis(3000)).attempts(2)
                .resolveBrokers(Duration.ofMillis(50)).resolver(host -> {
                    List<InetAddress> answer = reversed.get() ? backwards : inOrder;
                    lookups.incrementAndGet();
                    return answer;
                }).build();
        closeables.add(client);
        for (int i = 0; i < 4; i++) {
            CompletableFuture<Reply> retried = client.submit("echo", Body.ofStrings("retry-" + i));
            RawRouterPeer first = firstAttempt("retry-" + i, one, two);
            // Round-robin DNS: between the attempt and its resend the name's answer changes order, and
            // the resend waits until that answer has been applied (a lookup after it has begun).
            reversed.set(!reversed.get());
            int seen = lookups.get();
            assertTrue(Await.until(() -> lookups.get() >= seen + 2, WAIT));
            RawRouterPeer other = first == one ? two : one;
            Received resent = other.expect(WAIT);
            assertEquals("retry-" + i, resent.string(3), "the resend went to the other broker");
            other.send(resent.identity(), "MDPC02", cmd(3), "echo", "re:retry-" + i);
            assertEquals("re:retry-" + i, retried.get(5, TimeUnit.SECONDS).finalBody().string(0));
        }
    }

    /** The broker the first attempt of {@code body} reached; it does not answer. */
    private static RawRouterPeer firstAttempt(String body, RawRouterPeer one, RawRouterPeer two) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            for (RawRouterPeer broker : List.of(one, two)) {
                Received r = broker.receive(Duration.ofMillis(20));
                if (r != null) {
                    assertEquals(body, r.string(3));
                    return broker;
                }
            }
        }
        throw new AssertionError("no broker got " + body);
    }
}
