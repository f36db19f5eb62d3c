package org.mdpgateway.bench;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The raw limit of a broker: one ROUTER socket that hands each client message to an idle worker and
 * each worker's answer back to its client, with no protocol at all. A broker with the same shape
 * (the same sockets, threads and hops) cannot beat it; how close it comes is what the bench
 * measures. Runs in a process of its own, as the broker does.
 */
final class Relay {
    private Relay() {}

    static void run(String endpoint) {
        try (ZContext context = new ZContext(1)) {
            ZMQ.Socket router = context.createSocket(SocketType.ROUTER);
            router.setRcvHWM(0);
            router.setSndHWM(0);
            router.bind(endpoint);
            System.out.println("READY relay on " + endpoint);
            Set<ByteBuffer> workers = new HashSet<>(); // a ByteBuffer compares by content
            ArrayDeque<byte[]> idle = new ArrayDeque<>();
            ArrayDeque<byte[][]> waiting = new ArrayDeque<>();
            while (!Thread.currentThread().isInterrupted()) {
                byte[] from = router.recv(0);
                if (from == null) {
                    break;
                }
                byte[] second = router.recv(0);
                byte[] third = router.hasReceiveMore() ? router.recv(0) : null;
                while (router.hasReceiveMore()) {
                    router.recv(0);
                }
                if (third == null && Arrays.equals(second, RawPeers.RELAY_READY) && workers.add(ByteBuffer.wrap(from))) {
                    dispatchOrIdle(router, from, waiting, idle);
                } else if (third != null) { // a worker's answer: client id, body
                    router.sendMore(second);
                    router.send(third);
                    dispatchOrIdle(router, from, waiting, idle);
                } else { // a client's request
                    byte[] worker = idle.poll();
                    if (worker == null) {
                        waiting.add(new byte[][] {from, second});
                    } else {
                        forward(router, worker, from, second);
                    }
                }
            }
        }
    }

    private static void dispatchOrIdle(ZMQ.Socket router, byte[] worker, ArrayDeque<byte[][]> waiting,
            ArrayDeque<byte[]> idle) {
        byte[][] next = waiting.poll();
        if (next == null) {
            idle.add(worker);
        } else {
            forward(router, worker, next[0], next[1]);
        }
    }

    private static void forward(ZMQ.Socket router, byte[] worker, byte[] client, byte[] body) {
        router.sendMore(worker);
        router.sendMore(client);
        router.send(body);
    }
}
