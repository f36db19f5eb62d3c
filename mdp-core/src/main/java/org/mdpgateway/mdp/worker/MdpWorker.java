package org.mdpgateway.mdp.worker;

import org.mdpgateway.mdp.security.CurveClientKeys;

import org.mdpgateway.mdp.internal.Require;

import org.mdpgateway.mdp.MalformedMessageException;
import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.Ticker;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.Liveness;
import org.mdpgateway.mdp.internal.MdpSockets;
import org.mdpgateway.mdp.internal.SharedContext;
import org.mdpgateway.mdp.WorkerCommand;
import org.mdpgateway.mdp.internal.EventLoop;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * An MDP/Worker for one service (18/MDP).
 *
 * <p>The worker connects a DEALER socket, sends READY and hands each REQUEST to its
 * {@link RequestHandler} on a handler thread, while an I/O thread owns the socket and heartbeats at
 * the configured interval, busy or idle. Any command from the broker counts as its heartbeat; after
 * liveness x interval of silence the worker takes the broker for lost and reconnects on a new socket
 * with a new READY. A DISCONNECT from the broker does the same (18/MDP: close the socket and reconnect
 * on a new one). {@link #close()} sends DISCONNECT.
 *
 * <p>A handler that throws does not stop the worker. By default the worker then disconnects and
 * reconnects, so the broker knows the request was not served and can give it to another worker; with
 * {@link Builder#errorReply} it answers a FINAL of its own instead.
 *
 * <p>Threads: the socket and the connection state belong to the I/O thread. The handler thread gets
 * each request from it and hands back PARTIALs, the FINAL or its failure through the
 * {@link EventLoop}'s queue; only the I/O thread touches the socket.
 *
 * <pre>{@code
 * MdpWorker worker = MdpWorker.builder("tcp://localhost:5555", "echo")
 *         .start((request, partials) -> request);
 * }</pre>
 */
public final class MdpWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MdpWorker.class);
    private static final int MAX_QUEUED_PARTIALS = 1000;

    private final String endpoint;
    private final String service;
    private final long heartbeatNanos;
    private final long expiryNanos;
    private final long reconnectNanos;
    private final Ticker ticker;
    private final Duration handshakeTimeout;
    private final CurveClientKeys curve;
    private final Function<Exception, Body> errorReply;
    private final RequestHandler handler;

    private final ZContext context;
    /** Its queue is how the handler and closing threads reach the I/O thread; the rest is that thread's. */
    private final EventLoop<Object> loop = new EventLoop<>();
    private final HandlerThread handlerThread;
    private final Thread ioThread;
    private volatile boolean closed;

    // Owned by the I/O thread.
    private ZMQ.Socket socket;
    private EventLoop.Registration registration;
    private int connection;
    private int connectionsMade;
    private long reconnectAt;
    /** The broker's liveness: 18/MDP, silence for liveness x interval means it is gone. */
    private Liveness broker;
    private long lastSent;
    private RoutingId busyWith;
    /** Commands waiting for room in the socket, in order. */
    private final ArrayDeque<WorkerCommand> outgoing = new ArrayDeque<>();
    /**
     * Room for PARTIALs between the handler and the socket: a handler that sends faster than the
     * broker reads waits here instead of growing memory.
     */
    private final Semaphore partialRoom = new Semaphore(MAX_QUEUED_PARTIALS);

    private MdpWorker(Builder b, RequestHandler handler) {
        this.endpoint = b.endpoint;
        this.service = b.service;
        this.heartbeatNanos = b.heartbeatInterval.toNanos();
        this.expiryNanos = b.heartbeatInterval.toNanos() * b.liveness;
        this.reconnectNanos = b.reconnectDelay.toNanos();
        this.ticker = b.ticker;
        this.handshakeTimeout = b.handshakeTimeout;
        this.curve = b.curve;
        this.context = b.context == null ? SharedContext.get() : b.context;
        this.errorReply = b.errorReply;
        this.handler = handler;
        this.handlerThread = new HandlerThread("mdp-worker-" + service + "-handler");
        this.reconnectAt = ticker.nanoTime();
        this.ioThread = new Thread(this::runLoop, "mdp-worker-" + service);
        this.ioThread.setDaemon(true);
        this.ioThread.start();
    }

    public static Builder builder(String endpoint, String service) {
        return new Builder(endpoint, service);
    }

    public String service() {
        return service;
    }

    /** Stops the worker: sends DISCONNECT, closes its socket and interrupts a running handler. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        loop.post(Stop.INSTANCE);
        if (Thread.currentThread() != ioThread) {
            try {
                ioThread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        handlerThread.shutdownNow();
    }

    /** Wakes the I/O thread so it re-reads its ticker; for tests that move a fake ticker. */
    void wakeUp() {
        loop.wake();
    }

    // ---- I/O thread ----------------------------------------------------------------------------

    private void runLoop() {
        try {
            while (true) {
                long now = ticker.nanoTime();
                if (drainInbox(now)) {
                    return;
                }
                if (socket == null && now - reconnectAt >= 0) {
                    connect(now);
                } else if (socket != null) {
                    keepAlive(now);
                }
                if (socket != null) {
                    // While commands wait for room in the socket, also wake when there is room.
                    registration.events(outgoing.isEmpty() ? ZMQ.Poller.POLLIN : ZMQ.Poller.POLLIN | ZMQ.Poller.POLLOUT);
                }
                if (loop.poll(pollTimeoutMillis(now)) > 0 && socket != null) {
                    if (registration.writable()) {
                        flushOutgoing();
                    }
                    if (socket != null && registration.readable()) {
                        readCommands();
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            log.error("MDP worker I/O thread for '{}' failed", service, e);
            throw e;
        } finally {
            if (socket != null) {
                send(WorkerCommand.Disconnect.INSTANCE, ticker.nanoTime());
                dropSocket();
            }
            loop.close();
            log.info("worker for '{}' stopped", service);
        }
    }

    /** Sends what the handler produced; true when the worker is stopping. */
    private boolean drainInbox(long now) {
        Object item;
        while ((item = loop.next()) != null) {
            if (item instanceof Outgoing out) {
                if (out.connection != connection || socket == null) {
                    sent(out.command); // for a connection that is gone: the broker has dealt with that request
                    continue;
                }
                send(out.command, now);
                if (out.command instanceof WorkerCommand.Final) {
                    busyWith = null;
                }
            } else if (item instanceof HandlerFailed failed) {
                if (failed.connection == connection && socket != null) {
                    handlerFailed(failed, now);
                }
            } else if (item == Stop.INSTANCE) {
                return true;
            }
        }
        return false;
    }

    private void handlerFailed(HandlerFailed failed, long now) {
        if (errorReply != null) {
            Body reply = null;
            try {
                reply = failed.exception instanceof Exception ex ? errorReply.apply(ex) : null;
            } catch (RuntimeException e) {
                log.warn("the error reply function of worker '{}' threw", service, e);
            }
            if (reply != null && !reply.isEmpty()) {
                log.warn("handler of '{}' failed; answering with the error reply", service, failed.exception);
                send(new WorkerCommand.Final(failed.client, reply), now);
                busyWith = null;
                return;
            }
        }
        log.warn("handler of '{}' failed; reconnecting so the broker can give the request to another worker",
                service, failed.exception);
        send(WorkerCommand.Disconnect.INSTANCE, now);
        dropSocket();
        reconnectAt = now;
    }

    private void connect(long now) {
        socket = MdpSockets.connectDealer(context, endpoint, handshakeTimeout, curve);
        registration = loop.register(socket, ZMQ.Poller.POLLIN, null);
        connection++;
        connectionsMade++;
        busyWith = null;
        broker = new Liveness(now, expiryNanos);
        send(new WorkerCommand.Ready(service), now);
        log.info("worker for '{}' connected to {} (connection {})", service, endpoint, connectionsMade);
    }

    private void keepAlive(long now) {
        if (broker.isExpired(now)) {
            log.warn("worker for '{}' heard nothing from {} for {} ms; reconnecting", service, endpoint,
                    TimeUnit.NANOSECONDS.toMillis(broker.silentNanos(now)));
            dropSocket();
            reconnectAt = now + reconnectNanos;
        } else if (now - lastSent >= heartbeatNanos && outgoing.isEmpty()) {
            // 18/MDP: peers SHOULD NOT send HEARTBEAT while also sending other commands.
            send(WorkerCommand.Heartbeat.INSTANCE, now);
        }
    }

    private void readCommands() {
        List<byte[]> frames;
        while (socket != null && (frames = MdpSockets.receive(socket)) != null) {
            MdpCommand command;
            try {
                command = MdpCodec.decode(frames);
            } catch (MalformedMessageException e) {
                log.debug("worker for '{}' dropped a malformed message: {}", service, e.getMessage());
                continue;
            }
            if (!(command instanceof WorkerCommand workerCommand)) {
                log.debug("worker for '{}' dropped a client command: {}", service, command);
                continue;
            }
            if (workerCommand instanceof WorkerCommand.Disconnect) {
                // 18/MDP: close the socket and reconnect on a new one.
                log.info("worker for '{}' was disconnected by the broker; reconnecting", service);
                dropSocket();
                reconnectAt = ticker.nanoTime() + reconnectNanos;
                return;
            }
            // 18/MDP: any command except DISCONNECT acts as a heartbeat.
            broker.heard(ticker.nanoTime(), expiryNanos);
            if (workerCommand instanceof WorkerCommand.Request request) {
                dispatch(request);
            } else if (!(workerCommand instanceof WorkerCommand.Heartbeat)) {
                log.debug("worker for '{}' dropped an unexpected {}", service, workerCommand.type());
            }
        }
    }

    private void dispatch(WorkerCommand.Request request) {
        if (busyWith != null) {
            log.warn("worker for '{}' got a REQUEST while serving another; dropped it", service);
            return;
        }
        busyWith = request.client();
        int forConnection = connection;
        RoutingId client = request.client();
        handlerThread.execute(() -> runHandler(forConnection, client, request.body()));
    }

    /** Runs on the handler thread. */
    private void runHandler(int forConnection, RoutingId client, Body request) {
        AtomicBoolean finished = new AtomicBoolean();
        RequestHandler.PartialSink partials = partial -> {
            if (finished.get()) {
                throw new IllegalStateException("the request was answered already");
            }
            try {
                partialRoom.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting to send a PARTIAL", e);
            }
            loop.post(new Outgoing(forConnection, new WorkerCommand.Partial(client, partial)));
        };
        try {
            Body reply = handler.handle(request, partials);
            if (reply == null || reply.isEmpty()) {
                throw new IllegalStateException("handler returned no FINAL body (null or no frames)");
            }
            loop.post(new Outgoing(forConnection, new WorkerCommand.Final(client, reply)));
        } catch (Exception | Error e) { // an Error too: else no FINAL ever goes and the worker stays busy
            loop.post(new HandlerFailed(forConnection, client, e));
        } finally {
            finished.set(true);
        }
    }

    /**
     * Sends on the current socket, or queues behind commands still waiting for room in it, so that
     * nothing is dropped and order is kept. {@code now} is the loop turn's time, so one turn sees one
     * clock.
     */
    private void send(WorkerCommand command, long now) {
        if (outgoing.isEmpty() && MdpSockets.send(socket, command)) {
            sent(command);
        } else {
            outgoing.add(command);
        }
        registration.touched();
        lastSent = now;
    }

    private void flushOutgoing() {
        WorkerCommand next;
        while ((next = outgoing.peek()) != null && MdpSockets.send(socket, next)) {
            outgoing.poll();
            sent(next);
        }
    }

    /** A PARTIAL has left: its handler may queue another. */
    private void sent(WorkerCommand command) {
        if (command instanceof WorkerCommand.Partial) {
            partialRoom.release();
        }
    }

    private void dropSocket() {
        registration.cancel();
        registration = null;
        socket.close();
        socket = null;
        for (WorkerCommand unsent : outgoing) {
            sent(unsent); // for a connection that is gone; the broker deals with its request
        }
        outgoing.clear();
        busyWith = null;
    }

    private long pollTimeoutMillis(long now) {
        long wait;
        if (socket == null) {
            wait = reconnectAt - now;
        } else {
            wait = Math.min(lastSent + heartbeatNanos - now, broker.remainingNanos(now));
        }
        return wait <= 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(wait) + 1;
    }

    private record Outgoing(int connection, WorkerCommand command) {}

    private record HandlerFailed(int connection, RoutingId client, Throwable exception) {}

    private enum Stop { INSTANCE }

    /** Settings for an {@link MdpWorker}. */
    public static final class Builder {
        private final String endpoint;
        private final String service;
        private Duration heartbeatInterval = Duration.ofMillis(2500);
        private int liveness = 3;
        private Duration reconnectDelay = Duration.ofMillis(1000);
        private Ticker ticker = Ticker.system();
        private Duration handshakeTimeout = MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT;
        private CurveClientKeys curve;
        private ZContext context;
        private Function<Exception, Body> errorReply;

        private Builder(String endpoint, String service) {
            this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
            String problem = MdpProtocol.serviceNameProblem(service);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
            if (MdpProtocol.isMmiService(service)) {
                throw new IllegalArgumentException("'" + service + "' is in the mmi. namespace, which belongs to "
                        + "the broker (8/MMI)");
            }
            this.service = service;
        }

        /** How often the worker heartbeats; match the broker's. Default 2500 ms. */
        public Builder heartbeatInterval(Duration interval) {
            this.heartbeatInterval = Require.positive(interval, "heartbeat interval");
            return this;
        }

        /** How many intervals of silence mean the broker is lost. Default 3. */
        public Builder liveness(int liveness) {
            this.liveness = (int) Require.atLeast(liveness, 1, "liveness");
            return this;
        }

        /** How long to wait before reconnecting after the broker was lost or said DISCONNECT. Default 1 s. */
        public Builder reconnectDelay(Duration delay) {
            Objects.requireNonNull(delay, "delay");
            if (delay.isNegative()) {
                throw new IllegalArgumentException("reconnect delay must not be negative, got " + delay);
            }
            this.reconnectDelay = delay;
            return this;
        }

        /**
         * Connects with CURVE: the broker's public key and this worker's key pair, whose public key the
         * broker must allow (and, with an ACL, allow to serve this service). Default: none.
         */
        public Builder curve(CurveClientKeys keys) {
            this.curve = Objects.requireNonNull(keys, "keys");
            return this;
        }

        /** As {@link #curve(CurveClientKeys)}, from the broker's public certificate and this worker's secret one. */
        public Builder curve(java.nio.file.Path brokerCertificate, java.nio.file.Path ownSecretCertificate) {
            return curve(CurveClientKeys.fromFiles(brokerCertificate, ownSecretCertificate));
        }

        /**
         * How long a new connection may take to finish its ZMTP handshake before it is retried.
         * Default 1 s; see {@link MdpSockets#DEFAULT_HANDSHAKE_TIMEOUT} for why it is short.
         */
        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = Require.positive(timeout, "handshake timeout");
            return this;
        }

        /**
         * A ZeroMQ context to create sockets in, shared with the caller, who closes it; needed to
         * reach an {@code inproc://} endpoint bound in that context. Default: one context shared by the
         * clients and workers of this process that were given none, which lives as long as the process.
         */
        public Builder context(ZContext context) {
            this.context = Objects.requireNonNull(context, "context");
            return this;
        }

        /** The clock for heartbeats and liveness. Default: the system's monotonic clock. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Answers a request whose handler threw with a FINAL of this body instead of reconnecting.
         * Use it when clients understand such an error reply.
         */
        public Builder errorReply(Function<Exception, Body> errorReply) {
            this.errorReply = Objects.requireNonNull(errorReply, "errorReply");
            return this;
        }

        /** Starts a worker that serves requests with {@code handler}. */
        public MdpWorker start(RequestHandler handler) {
            return new MdpWorker(this, Objects.requireNonNull(handler, "handler"));
        }
    }
}
