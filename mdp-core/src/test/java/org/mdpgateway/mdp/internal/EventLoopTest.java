package org.mdpgateway.mdp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** The loop's sleep and wake-ups, with real sockets on loopback. */
class EventLoopTest {

    @Test
    void postFromInterruptedThread_wakesTheLoopAndLetsItSleepAgain() throws Exception {
        try (EventLoop<String> loop = new EventLoop<>()) {
            Thread.currentThread().interrupt(); // e.g. a caller that restored its interrupt flag
            loop.post("x");
            Thread.interrupted();

            assertEquals(0, loop.poll(0));
            assertEquals("x", loop.next());
            assertNull(loop.next());
            long start = System.nanoTime();
            loop.poll(200); // nothing queued: it must sleep, not spin
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(150), "slept");
        }
    }

    @Test
    void postFromAnotherThread_wakesASleepingLoop() throws Exception {
        try (EventLoop<String> loop = new EventLoop<>()) {
            CountDownLatch asleep = new CountDownLatch(1);
            Thread poster = new Thread(() -> {
                try {
                    asleep.await();
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
                loop.post("late");
            });
            poster.start();
            asleep.countDown();
            long start = System.nanoTime();
            loop.poll(10_000);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "woken by the post");
            assertEquals("late", loop.next());
            poster.join();
        }
    }

    @Test
    void wakeBeforePoll_keepsTheLoopFromSleeping() {
        try (EventLoop<String> loop = new EventLoop<>()) {
            loop.wake();
            long start = System.nanoTime();
            loop.poll(10_000);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
        }
    }

    @Test
    void socketWithMessages_isReadyUntilDrained() throws Exception {
        try (ZContext context = new ZContext(1); EventLoop<String> loop = new EventLoop<>()) {
            ZMQ.Socket server = context.createSocket(SocketType.ROUTER);
            ZMQ.Socket client = connectedDealer(context, server);
            EventLoop.Registration reg = loop.register(server, ZMQ.Poller.POLLIN, "server");

            for (int i = 0; i < 3; i++) {
                client.send("m" + i);
            }
            int got = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (got < 3 && System.nanoTime() < deadline) {
                if (loop.poll(1000) > 0) {
                    assertSame(reg, loop.ready(0));
                    assertEquals("server", reg.attachment());
                    assertTrue(reg.readable());
                    // Read only one per turn: the loop must find the rest without a new signal.
                    if (server.recv(ZMQ.DONTWAIT) != null) {
                        server.recv(0);
                        got++;
                    }
                }
            }
            assertEquals(3, got);
            // Drained: the next poll sleeps for its timeout.
            assertEquals(0, loop.poll(100));
            assertTrue(!reg.readable());
            reg.cancel();
        }
    }

    @Test
    void replyAfterSend_isFoundAlthoughTheSendTookTheSignal() throws Exception {
        try (ZContext context = new ZContext(1); EventLoop<String> loop = new EventLoop<>()) {
            ZMQ.Socket server = context.createSocket(SocketType.ROUTER);
            ZMQ.Socket client = connectedDealer(context, server);
            EventLoop.Registration reg = loop.register(client, ZMQ.Poller.POLLIN, null);
            for (int round = 0; round < 50; round++) {
                client.send("ping" + round, ZMQ.DONTWAIT);
                reg.touched();
                byte[] id = server.recv(0);
                server.recv(0);
                server.send(id, ZMQ.SNDMORE);
                server.send("pong" + round);
                String reply = null;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (reply == null && System.nanoTime() < deadline) {
                    if (loop.poll(1000) > 0 && reg.readable()) {
                        reply = client.recvStr(ZMQ.DONTWAIT);
                    }
                }
                assertEquals("pong" + round, reply);
            }
        }
    }

    @Test
    void receiveOrWake_readsAWholeMessageThenIsWokenByAPostAndByWake() throws Exception {
        try (ZContext context = new ZContext(1); EventLoop<String> loop = new EventLoop<>()) {
            ZMQ.Socket server = context.createSocket(SocketType.ROUTER);
            ZMQ.Socket client = connectedDealer(context, server);
            EventLoop.Registration reg = loop.register(server, ZMQ.Poller.POLLIN, "server");

            client.sendMore("a");
            client.send("b");
            List<byte[]> frames = loop.receiveOrWake(reg, 10_000);
            assertEquals(3, frames.size(), "routing id and both frames");
            assertEquals("b", new String(frames.get(2), java.nio.charset.StandardCharsets.UTF_8));

            for (Runnable waker : List.<Runnable>of(() -> loop.post("late"), loop::wake)) {
                Thread other = new Thread(() -> {
                    try {
                        Thread.sleep(100); // most likely asleep by then; either way it must not wait
                    } catch (InterruptedException e) {
                        return;
                    }
                    waker.run();
                });
                other.start();
                long start = System.nanoTime();
                assertNull(loop.receiveOrWake(reg, 60_000), "woken, with no message");
                assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "woken long before the timeout");
                other.join();
                loop.next(); // "late" after the post; nothing after the wake
            }
            assertNull(loop.next());

            long start = System.nanoTime();
            assertNull(loop.receiveOrWake(reg, 200)); // nothing posted: it sleeps to the timeout
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(150), "slept");
            reg.cancel();
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(30)
    void receiveOrWake_losesNoWakeUpWhenPostsRaceTheLoopsLookAtItsQueue() throws Exception {
        try (ZContext context = new ZContext(1); EventLoop<Integer> loop = new EventLoop<>()) {
            ZMQ.Socket server = context.createSocket(SocketType.ROUTER);
            ZMQ.Socket client = connectedDealer(context, server);
            EventLoop.Registration reg = loop.register(server, ZMQ.Poller.POLLIN, "server");
            int posts = 100_000;
            Thread poster = new Thread(() -> {
                java.util.Random random = new java.util.Random(42);
                for (int i = 0; i < posts; i++) {
                    for (int spin = random.nextInt(500); spin > 0; spin--) {
                        Thread.onSpinWait(); // lands each post at a different point of the loop's turn
                    }
                    loop.post(i);
                }
            });
            poster.start();
            // A lost wake-up leaves a receive to its timeout, far past the test's.
            int seen = 0;
            while (seen < posts) {
                assertNull(loop.receiveOrWake(reg, 600_000));
                while (loop.next() != null) {
                    seen++;
                }
            }
            poster.join();
            reg.cancel();
            client.close();
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void receiveOrWake_keepsWorkingWhenPostersAreInterruptedAsTheyPost() throws Exception {
        try (ZContext context = new ZContext(1); EventLoop<Integer> loop = new EventLoop<>()) {
            ZMQ.Socket server = context.createSocket(SocketType.ROUTER);
            ZMQ.Socket client = connectedDealer(context, server);
            EventLoop.Registration reg = loop.register(server, ZMQ.Poller.POLLIN, "server");
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread poster = new Thread(() -> {
                for (int i = 0; !stop.get(); i++) {
                    loop.post(i); // wakes the loop, asleep most of the time
                    Thread.interrupted();
                    LockSupport.parkNanos(20_000);
                }
            });
            Thread interrupter = new Thread(() -> {
                while (!stop.get()) {
                    poster.interrupt();
                    Thread.onSpinWait();
                }
            });
            poster.start();
            interrupter.start();
            // Posts that cancel the loop's receive while their thread is interrupted again and again.
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() < end) {
                loop.receiveOrWake(reg, 1000);
                while (loop.next() != null) {
                    // drained
                }
            }
            stop.set(true);
            poster.join();
            interrupter.join();
            while (loop.next() != null) {
                // drained
            }
            // The socket must still hear its peer at once.
            for (int i = 0; i < 20; i++) {
                client.send("m" + i);
                long start = System.nanoTime();
                List<byte[]> frames = null;
                while (frames == null && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10)) {
                    frames = loop.receiveOrWake(reg, 10_000);
                }
                assertTrue(frames != null, "the message came");
                assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "at once, not after a timeout");
            }
            reg.cancel();
            client.close();
        }
    }

    /** A DEALER connected over loopback TCP to {@code router}, which this binds to a free port. */
    private static ZMQ.Socket connectedDealer(ZContext context, ZMQ.Socket router) {
        int port = router.bindToRandomPort("tcp://127.0.0.1");
        ZMQ.Socket dealer = context.createSocket(SocketType.DEALER);
        dealer.connect("tcp://127.0.0.1:" + port);
        return dealer;
    }
}
