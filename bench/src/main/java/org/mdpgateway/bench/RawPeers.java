package org.mdpgateway.bench;

import org.mdpgateway.mdp.security.CurveClientKeys;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * Peers written straight on JeroMQ sockets, frame by frame, with no library of ours: the 18/MDP
 * client and echo worker, and the two ends of the bare relay ({@link Relay}) that is their limit.
 */
final class RawPeers {
    static final byte[] MDPC = "MDPC02".getBytes(StandardCharsets.US_ASCII);
    static final byte[] MDPW = "MDPW02".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = {1};
    private static final byte[] REQUEST = {1};
    private static final byte[] FINAL_TO_BROKER = {4};
    private static final byte[] HEARTBEAT = {5};
    private static final byte[] EMPTY = {};
    static final byte[] RELAY_READY = "READY".getBytes(StandardCharsets.US_ASCII);

    /** The wire shape the peers speak. */
    enum Shape { MDP, RELAY }

    private RawPeers() {}

    /** Echo workers on their own threads until closed. */
    static final class Workers implements AutoCloseable {
        private final ZContext context = new ZContext(1);
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean stopped;

        Workers(String endpoint, Shape shape, String service, int count) {
            this(endpoint, shape, service, count, null);
        }

        /** @param curve null for NULL connections */
        Workers(String endpoint, Shape shape, String service, int count, CurveClientKeys curve) {
            for (int i = 0; i < count; i++) {
                ZMQ.Socket socket = dealer(context, endpoint, curve);
                Thread t = new Thread(() -> serve(socket, shape, service), "raw-worker-" + service + "-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        private void serve(ZMQ.Socket socket, Shape shape, String service) {
            socket.setReceiveTimeOut(200);
            if (shape == Shape.MDP) {
                socket.sendMore(MDPW);
                socket.sendMore(READY);
                socket.send(service);
            } else {
                socket.send(RELAY_READY);
            }
            long lastSent = System.nanoTime();
            while (!stopped) {
                byte[] first = socket.recv(0);
                if (shape == Shape.MDP && System.nanoTime() - lastSent > 1_000_000_000L) {
                    socket.sendMore(MDPW);
                    socket.send(HEARTBEAT);
                    lastSent = System.nanoTime();
                }
                if (first == null) {
                    continue;
                }
                List<byte[]> frames = rest(socket, first);
                if (shape == Shape.RELAY) { // client id, body: echo it back
                    socket.sendMore(frames.get(0));
                    socket.send(frames.get(1));
                } else if (frames.size() >= 5 && frames.get(1)[0] == 2) { // MDPW02, REQUEST, client, "", body
                    socket.sendMore(MDPW);
                    socket.sendMore(FINAL_TO_BROKER);
                    socket.sendMore(frames.get(2));
                    socket.sendMore(EMPTY);
                    socket.send(frames.get(4));
                    lastSent = System.nanoTime();
                }
            }
            socket.close();
        }

        @Override
        public void close() {
            stopped = true;
            for (Thread t : threads) {
                try {
                    t.join(2000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            context.close();
        }
    }

    /** Client sockets that persist across trials, so no trial pays for a fresh connection. */
    static final class Clients implements AutoCloseable {
        private final ZContext context = new ZContext(1);
        private final String endpoint;
        private final Shape shape;
        private final byte[] service;
        private final byte[] body;
        private final ZMQ.Socket[] sockets;
        private final CurveClientKeys curve;

        Clients(String endpoint, Shape shape, String service, int count, byte[] body) {
            this(endpoint, shape, service, count, body, null);
        }

        /** @param curve null for NULL connections */
        Clients(String endpoint, Shape shape, String service, int count, byte[] body, CurveClientKeys curve) {
            this.curve = curve;
            this.endpoint = endpoint;
            this.shape = shape;
            this.service = service.getBytes(StandardCharsets.UTF_8);
            this.body = body;
            this.sockets = new ZMQ.Socket[count];
            for (int i = 0; i < count; i++) {
                sockets[i] = connectedAndAnswered();
            }
        }

        /**
         * A socket that has had one answer already. JeroMQ now and then loses a fresh connection
         * before its handshake; such a socket is replaced, not waited on.
         */
        private ZMQ.Socket connectedAndAnswered() {
            for (int attempt = 0; attempt < 20; attempt++) {
                ZMQ.Socket socket = dealer(context, endpoint, curve);
                socket.setReceiveTimeOut(2000);
                try {
                    if (call(socket)) {
                        socket.setReceiveTimeOut(10_000);
                        return socket;
                    }
                } catch (IllegalStateException e) {
                    // no answer in time
                }
                socket.close();
            }
            throw new IllegalStateException("no answer from " + endpoint + " after 20 fresh connections");
        }

        ClosedLoop.Operation operation(int thread) {
            ZMQ.Socket socket = sockets[thread];
            return () -> call(socket);
        }

        private boolean call(ZMQ.Socket socket) {
            if (shape == Shape.MDP) {
                socket.sendMore(MDPC);
                socket.sendMore(REQUEST);
                socket.sendMore(service);
                socket.send(body);
            } else {
                socket.send(body);
            }
            byte[] first = socket.recv(0);
            if (first == null) {
                throw new IllegalStateException("no reply within the socket's timeout");
            }
            List<byte[]> frames = rest(socket, first);
            if (shape == Shape.MDP) { // MDPC02, FINAL 0x03, service, body
                return frames.size() == 4 && frames.get(1)[0] == 3 && Arrays.equals(frames.get(3), body);
            }
            return frames.size() == 1 && Arrays.equals(frames.get(0), body);
        }

        @Override
        public void close() {
            context.close();
        }
    }

    static ZMQ.Socket dealer(ZContext context, String endpoint, CurveClientKeys curve) {
        ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        if (curve != null) {
            curve.applyTo(socket);
        }
        socket.setLinger(0);
        socket.setHandshakeIvl(1000);
        socket.setRcvHWM(0);
        socket.setSndHWM(0);
        socket.connect(endpoint);
        return socket;
    }

    private static List<byte[]> rest(ZMQ.Socket socket, byte[] first) {
        List<byte[]> frames = new ArrayList<>(6);
        frames.add(first);
        while (socket.hasReceiveMore()) {
            frames.add(socket.recv(0));
        }
        return frames;
    }
}
