package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.security.CurveClientKeys;

import org.mdpgateway.mdp.MdpException;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.internal.MdpSockets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import zmq.ZError;
import org.zeromq.ZMQException;

/**
 * {@link MdpClient#request} on the caller's own thread: the caller takes a socket from a pool, sends,
 * waits in the socket's own blocking receive and gives the socket back, so a blocking request costs
 * no hand-over to the client's I/O thread and back, two thread wake-ups per request. The rules are
 * those of the I/O thread's path (18/MDP client reliability): on no reply within the timeout, close
 * that socket, open a new one and resend, up to the attempts allowed, but never after a PARTIAL.
 *
 * <p>Thread safe. A socket belongs to one caller from {@code take} to {@code give back}; the pool
 * hands it over with the memory barrier a socket moving between threads needs. The sockets are not
 * tracked by the client's {@link ZContext}, which must not close them under a caller; on close,
 * idle ones are closed here and busy ones by their callers, who look at {@code closed} at least every
 * {@link #CLOSED_CHECK_MILLIS}.
 */
final class BlockingCalls {
    static final int CLOSED_CHECK_MILLIS = 200;

    private final ZContext context;
    private final BrokerRotation brokers;
    private final String endpoint;
    private final Duration handshakeTimeout;
    private final CurveClientKeys curve;
    private final int maxAttempts;
    private final int maxIdle;
    private final BooleanSupplier closed;
    /** Idle sockets for each broker, by its endpoint. */
    private final ConcurrentHashMap<String, ConcurrentLinkedDeque<ZMQ.Socket>> idle = new ConcurrentHashMap<>();
    private final AtomicInteger idleCount = new AtomicInteger();

    BlockingCalls(ZContext context, BrokerRotation brokers, Duration handshakeTimeout, CurveClientKeys curve,
            int maxAttempts, int maxIdle, BooleanSupplier closed) {
        this.context = context;
        this.brokers = brokers;
        this.endpoint = String.join(",", brokers.configured());
        this.handshakeTimeout = handshakeTimeout;
        this.curve = curve;
        this.maxAttempts = maxAttempts;
        this.maxIdle = maxIdle;
        this.closed = closed;
    }

    Reply request(ClientCommand.Request request, Duration timeout) {
        long timeoutNanos = timeout.toNanos();
        int start = brokers.start();
        String broker = brokers.endpoint(start, 0);
        ZMQ.Socket socket = take(broker);
        List<Body> partials = null;
        int attempts = 0;
        try {
            while (true) {
                attempts++;
                // Without room now the attempt still waits out its timeout, then resends on a new socket.
                MdpSockets.send(socket, request);
                long deadline = System.nanoTime() + timeoutNanos;
                while (true) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    checkOpen();
                    socket.setReceiveTimeOut((int) Math.max(1, Math.min(CLOSED_CHECK_MILLIS, left / 1_000_000 + 1)));
                    List<byte[]> frames = MdpSockets.receive(socket, 0);
                    if (frames == null) {
                        continue;
                    }
                    ClientCommand reply = MdpClient.replyFor(frames, request.service());
                    if (reply instanceof ClientCommand.Partial) {
                        if (partials == null) {
                            partials = new ArrayList<>();
                        }
                        partials.add(reply.body());
                    } else if (reply instanceof ClientCommand.Final) {
                        giveBack(socket, broker);
                        socket = null;
                        return new Reply(request.service(), partials == null ? List.of() : partials, reply.body());
                    }
                }
                int received = partials == null ? 0 : partials.size();
                if (received > 0 || attempts >= maxAttempts) {
                    throw new RequestTimeoutException(request.service(), timeout, attempts, received);
                }
                // 18/MDP: close the socket, open a new one and resend; with several brokers, on the next.
                broker = brokers.endpoint(start, attempts);
                socket = replace(socket, broker);
            }
        } catch (ZMQException e) {
            if (closed.getAsBoolean()) { // the context ended under a wait
                throw new ClientClosedException("client for " + endpoint + " is closed");
            }
            if (e.getErrorCode() == ZMQ.Error.EINTR.getCode()) {
                // JeroMQ clears the thread's interrupt as it gives up; the caller's code needs it.
                Thread.currentThread().interrupt();
                throw new MdpException("interrupted while waiting for a reply from '" + request.service() + "'", e);
            }
            throw e;
        } finally {
            if (socket != null) {
                socket.close(); // abandoned mid-request: a late reply must not reach the next caller
            }
        }
    }

    private void checkOpen() {
        if (closed.getAsBoolean()) {
            throw new ClientClosedException("client for " + endpoint + " is closed");
        }
    }

    private ZMQ.Socket take(String broker) {
        checkOpen();
        ConcurrentLinkedDeque<ZMQ.Socket> pool = idle.get(broker);
        ZMQ.Socket socket = pool == null ? null : pool.pollFirst();
        if (socket == null) {
            return open(broker);
        }
        idleCount.decrementAndGet();
        MdpClient.dropStale(socket);
        return socket;
    }

    private ZMQ.Socket replace(ZMQ.Socket socket, String broker) {
        socket.close();
        checkOpen();
        return open(broker);
    }

    private ZMQ.Socket open(String endpoint) {
        try {
            // Not created through the ZContext, which would close it under its caller on close.
            return MdpSockets.connectDealer(context.getContext().socket(SocketType.DEALER), endpoint,
                    handshakeTimeout, curve);
        } catch (ZError.IOException e) {
            throw new MdpException("cannot open a socket to " + endpoint + " (" + e.getMessage()
                    + "); fewer requests at once or a higher file-descriptor limit would help", e);
        }
    }

    private void giveBack(ZMQ.Socket socket, String broker) {
        if (!brokers.contains(broker)) {
            socket.close(); // its broker is gone from the rotation
            return;
        }
        if (idleCount.incrementAndGet() > maxIdle) {
            idleCount.decrementAndGet();
            socket.close();
            return;
        }
        idle.computeIfAbsent(broker, k -> new ConcurrentLinkedDeque<>()).addFirst(socket);
        if (closed.getAsBoolean()) {
            closeIdle(); // closed meanwhile: whoever closed may have emptied the pool already
        }
    }

    /** Closes the idle sockets; busy ones are closed by their callers. */
    void closeIdle() {
        idle.values().forEach(this::closeAll);
    }

    /** Closes the idle sockets to brokers no longer in {@code rotation}; on the client's resolver thread. */
    void closeIdleNotIn(BrokerRotation rotation) {
        for (String broker : idle.keySet()) {
            if (!rotation.contains(broker)) {
                ConcurrentLinkedDeque<ZMQ.Socket> pool = idle.remove(broker);
                if (pool != null) {
                    closeAll(pool);
                }
            }
        }
    }

    private void closeAll(ConcurrentLinkedDeque<ZMQ.Socket> pool) {
        ZMQ.Socket socket;
        while ((socket = pool.pollFirst()) != null) {
            idleCount.decrementAndGet();
            socket.close();
        }
    }
}
