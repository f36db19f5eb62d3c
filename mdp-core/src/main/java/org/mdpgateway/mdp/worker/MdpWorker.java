package org.mdpgateway.mdp.worker;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.HostResolver;
import org.mdpgateway.mdp.Liveness;
import org.mdpgateway.mdp.MalformedMessageException;
import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.Ticker;
import org.mdpgateway.mdp.WorkerCommand;
import org.mdpgateway.mdp.internal.BrokerResolver;
import org.mdpgateway.mdp.internal.EventLoop;
import org.mdpgateway.mdp.internal.MdpSockets;
import org.mdpgateway.mdp.internal.Require;
import org.mdpgateway.mdp.internal.SharedContext;
import org.mdpgateway.mdp.security.CurveClientKeys;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;
import zmq.ZError;

/**
 * An MDP/Worker for one service (18/MDP), on one broker or several.
 *
 * <p>For each broker the worker connects a DEALER socket and sends READY: one worker connection per
 * broker, as 18/MDP has it. It hands each REQUEST to its {@link RequestHandler}, while an I/O thread
 * owns the sockets and heartbeats each broker at the configured interval, busy or idle. Any command from a broker counts as its heartbeat; after liveness x interval of silence the
 * worker takes that broker for lost and reconnects to it on a new socket with a new READY. A
 * DISCONNECT from a broker does the same (18/MDP: close the socket and reconnect on a new one). Each
 * connection does this on its own; the others go on serving. {@link #close()} sends DISCONNECT on
 * each.
 *
 * <p>At most {@link Builder#maxInFlight} requests run at once, across all brokers; as a broker gives
 * a worker connection one request at a time, with more brokers than handlers a request may wait for
 * a handler here. Brokers may also be found by DNS ({@link Builder#resolveBrokers}).
 *
 * <p>A handler that throws does not stop the worker. By default the worker then disconnects that
 * connection and reconnects, so its broker knows the request was not served and can give it to
 * another worker; with {@link Builder#errorReply} it answers a FINAL of its own instead.
 *
 * <p>Threads: the sockets and the connections' state belong to the I/O thread. With one request in
 * flight (the default) a handler runs on the I/O thread itself, which saves two thread wake-ups per
 * request; if it runs longer than {@link LoopHandover#HANDOVER_AFTER_NANOS}, a watchdog gives the I/O
 * role (sockets, heartbeats) to a new thread meanwhile, and the following requests run on a handler
 * thread until one of them is short again. Handler threads get each request from the I/O thread and
 * hand back PARTIALs, the FINAL or its failure through the {@link EventLoop}'s queue; only the thread
 * holding the I/O role touches a socket. With one broker the I/O thread sleeps in that socket's own
 * receive ({@link EventLoop#receiveOrWake}), with several in the loop's selector. A resolver thread, when brokers are found by DNS, posts each
 * lookup's result to the same queue.
 *
 * <pre>{@code
 * MdpWorker worker = MdpWorker.builder("tcp://localhost:5555", "echo")
 *         .start((request, partials) -> request);
 * MdpWorker everywhere = MdpWorker.builder(List.of("tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555"), "echo")
 *         .start((request, partials) -> request);
 * }</pre>
 */
public final class MdpWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MdpWorker.class);
    private static final int MAX_QUEUED_PARTIALS = 1000;

    /**
     * One broker connection as the I/O thread saw it.
     *
     * @param endpoint the broker
     * @param heard whether the current connection has heard from its broker since it was made
     * @param connects how many times the worker has connected (and sent READY) to it
     * @param busy whether it holds a request
     */
    public record ConnectionState(String endpoint, boolean heard, int connects, boolean busy) {}

    private final String service;
    private final List<String> configuredEndpoints;
    private final long heartbeatNanos;
    private final long expiryNanos;
    private final long reconnectNanos;
    private final Ticker ticker;
    private final Duration handshakeTimeout;
    private final CurveClientKeys curve;
    private final Function<Exception, Body> errorReply;
    private final RequestHandler handler;
    private final int maxInFlight;

    private final ZContext context;
    /** Its queue is how the handler, resolver and closing threads reach the I/O thread; the rest is that thread's. */
    private final EventLoop<Object> loop = new EventLoop<>();
    private final List<HandlerThread> handlerThreads = new ArrayList<>();
    private final ScheduledExecutorService resolverThread;
    /** Runs handlers on the I/O thread while they are short; null with more than one in flight. */
    private final LoopHandover handover;
    /** The I/O thread when handlers never run on it (more than one in flight); else null. */
    private final Thread fixedIoThread;
    /** Counted down by the thread that holds the I/O role when the worker stops. */
    private final java.util.concurrent.CountDownLatch loopEnded = new java.util.concurrent.CountDownLatch(1);
    private volatile boolean closed;

    // Owned by the I/O thread.
    /** Every broker the worker serves, by endpoint, in the order they were given or found. */
    private final Map<String, Connection> connections = new LinkedHashMap<>();
    /** The connection when there is exactly one broker, else null; kept with {@link #connections}. */
    private Connection onlyBroker;
    private final ArrayDeque<HandlerThread> idleHandlers = new ArrayDeque<>();
    /** Requests that arrived while every handler was busy, oldest first. */
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
    /**
     * Room for PARTIALs between the handlers and the sockets: a handler that sends faster than the
     * broker reads waits here instead of growing memory.
     */
    private final Semaphore partialRoom = new Semaphore(MAX_QUEUED_PARTIALS);
    /** Whether the next request runs on the I/O thread (see {@link LoopHandover}). */
    private boolean inlineNext;

    private MdpWorker(Builder b, RequestHandler handler) {
        this.service = b.service;
        this.configuredEndpoints = b.endpoints;
        this.heartbeatNanos = b.heartbeatInterval.toNanos();
        this.expiryNanos = b.heartbeatInterval.toNanos() * b.liveness;
        this.reconnectNanos = b.reconnectDelay.toNanos();
        this.ticker = b.ticker;
        this.handshakeTimeout = b.handshakeTimeout;
        this.curve = b.curve;
        this.context = b.context == null ? SharedContext.forWorkers() : b.context;
        this.errorReply = b.errorReply;
        this.handler = handler;
        this.maxInFlight = b.maxInFlight;
        for (int i = 0; i < maxInFlight; i++) {
            HandlerThread h = new HandlerThread("mdp-worker-" + service + "-handler" + (maxInFlight > 1 ? "-" + i : ""));
            handlerThreads.add(h);
            idleHandlers.add(h);
        }
        long now = ticker.nanoTime();
        if (b.resolveEvery == null) {
            for (String endpoint : configuredEndpoints) {
                connections.put(endpoint, new Connection(endpoint, now));
            }
            brokersChanged();
            resolverThread = null;
        } else {
            BrokerResolver resolver = new BrokerResolver(configuredEndpoints, b.resolver,
                    "worker for '" + service + "'");
            resolverThread = resolver.every(Duration.ZERO, b.resolveEvery, "mdp-worker-" + service + "-resolver",
                    endpoints -> loop.post(new Resolved(endpoints)));
        }
        String loopName = "mdp-worker-" + service;
        if (maxInFlight == 1 && b.inlineHandlers) {
            handover = new LoopHandover(this::runLoop, loopName);
            fixedIoThread = null;
            inlineNext = true;
            handover.start();
        } else {
            handover = null;
            fixedIoThread = new Thread(this::runLoop, loopName);
            fixedIoThread.setDaemon(true);
            fixedIoThread.start();
        }
    }

    /** Whether the calling thread holds the I/O role and is not running a handler inline. */
    private boolean onLoopOutsideHandler() {
        return handover != null ? handover.onLoopOutsideHandler() : Thread.currentThread() == fixedIoThread;
    }

    public static Builder builder(String endpoint, String service) {
        return new Builder(List.of(Objects.requireNonNull(endpoint, "endpoint")), service);
    }

    /** A worker for {@code service} on every broker of {@code endpoints}. */
    public static Builder builder(List<String> endpoints, String service) {
        return new Builder(Objects.requireNonNull(endpoints, "endpoints"), service);
    }

    public String service() {
        return service;
    }

    /** The worker's broker connections now, in the order they were given or found. */
    public List<ConnectionState> connections() {
        CompletableFuture<List<ConnectionState>> answer = new CompletableFuture<>();
        loop.post(new StateQuery(answer));
        try {
            return answer.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("the worker's I/O thread did not answer", e);
        }
    }

    /** Stops the worker: sends DISCONNECT, closes its sockets and interrupts running handlers. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (resolverThread != null) {
            resolverThread.shutdownNow();
        }
        loop.post(Stop.INSTANCE);
        if (!onLoopOutsideHandler()) { // there (an error reply function, say) the loop stops after this turn
            try {
                // Called from a handler running inline, this thread holds the I/O role: the watchdog
                // hands it to a new thread, which stops the loop.
                loopEnded.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (handover != null) {
            handover.close(); // interrupts a handler still running on a thread that held the I/O role
        }
        handlerThreads.forEach(HandlerThread::shutdownNow);
    }

    /** Wakes the I/O thread so it re-reads its ticker; for tests that move a fake ticker. */
    void wakeUp() {
        loop.wake();
    }

    // ---- I/O thread ----------------------------------------------------------------------------

    /** Run by the thread that holds the I/O role, until the worker stops or the role is handed over. */
    private void runLoop() {
        try {
            turns();
        } catch (HandedOver e) {
            return; // a handler ran long on this thread: another thread holds the I/O role now
        } catch (RuntimeException | Error e) {
            log.error("MDP worker I/O thread for '{}' failed", service, e);
            if (handover == null || handover.ownsLoop()) { // else the loop's state is another thread's now
                stopped();
            }
            throw e;
        }
        stopped();
    }

    private void turns() {
        while (true) {
            long now = ticker.nanoTime();
            if (drainInbox(now)) {
                return;
            }
            for (Connection c : connections.values()) {
                c.maintain(now);
            }
            long timeout = pollTimeoutMillis(now);
            Connection only = soleConnection();
            if (only != null && timeout > 0) {
                // One broker (the usual case): sleep in its socket's receive, as a raw worker does;
                // see EventLoop.receiveOrWake for why that is much cheaper than the selector.
                List<byte[]> frames = loop.receiveOrWake(only.registration, (int) Math.min(timeout, Integer.MAX_VALUE));
                if (frames != null) {
                    only.handle(frames);
                    only.readCommands();
                }
                continue;
            }
            int ready = loop.poll(timeout);
            for (int i = 0; i < ready; i++) {
                EventLoop.Registration r = loop.ready(i);
                if (r.attachment() instanceof Connection c && c.registration == r) {
                    if (r.writable()) {
                        c.flushOutgoing();
                    }
                    if (c.socket != null && r.readable()) {
                        c.readCommands();
                    }
                }
            }
        }
    }

    /** The one broker connection, if there is just one, connected and with nothing waiting for room; else null. */
    private Connection soleConnection() {
        Connection c = onlyBroker;
        return c != null && c.socket != null && c.outgoing.isEmpty() ? c : null;
    }

    private void stopped() {
        try {
            long now = ticker.nanoTime();
            for (Connection c : connections.values()) {
                if (c.socket != null) {
                    c.send(WorkerCommand.Disconnect.INSTANCE, now);
                    c.dropSocket();
                }
            }
            loop.close();
            log.info("worker for '{}' stopped", service);
        } finally {
            loopEnded.countDown();
        }
    }

    /** Handles what other threads posted; true when the worker is stopping. */
    private boolean drainInbox(long now) {
        Object item;
        while ((item = loop.next()) != null) {
            if (item instanceof Outgoing out) {
                send(out, now);
            } else if (item instanceof Finished done) {
                finished(done, now);
            } else if (item instanceof Resolved resolved) {
                brokersAre(resolved.endpoints, now);
            } else if (item instanceof StateQuery query) {
                List<ConnectionState> states = new ArrayList<>();
                for (Connection c : connections.values()) {
                    states.add(new ConnectionState(c.endpoint, c.socket != null && c.heardSinceConnect, c.connects,
                            c.busyWith != null));
                }
                query.answer.complete(states);
            } else if (item == Stop.INSTANCE) {
                return true;
            }
        }
        return false;
    }

    /** A handler is done with a request: its FINAL or failure goes out, and it takes the next waiting one. */
    private void finished(Finished done, long now) {
        Connection c = done.conn;
        if (c.generation == done.generation && c.socket != null) {
            if (done.failure == null) {
                c.send(done.reply, now);
                c.busyWith = null;
            } else {
                c.handlerFailed(done.client, done.failure, now);
            }
        }
        idleHandlers.add(done.handler);
        if (handover != null) {
            // Short handlers run on this thread; after a long one, on the handler thread until one is short.
            inlineNext = done.quick;
        }
        Waiting next;
        while ((next = waiting.poll()) != null) {
            if (next.conn.generation == next.generation && next.conn.socket != null) {
                run(next.conn, next.request);
                break;
            } // else its connection is gone, and its broker gives the request to another worker
        }
    }

    /** The brokers are now {@code endpoints}: connect to new ones, leave those gone. */
    private void brokersAre(Set<String> endpoints, long now) {
        for (String endpoint : endpoints) {
            if (!connections.containsKey(endpoint)) {
                log.info("worker for '{}' found broker {}", service, endpoint);
                connections.put(endpoint, new Connection(endpoint, now));
            }
        }
        for (var it = connections.values().iterator(); it.hasNext(); ) {
            Connection c = it.next();
            if (!endpoints.contains(c.endpoint)) {
                log.info("worker for '{}' no longer finds broker {}; leaving it", service, c.endpoint);
                if (c.socket != null) {
                    c.send(WorkerCommand.Disconnect.INSTANCE, now);
                    c.dropSocket();
                }
                it.remove();
            }
        }
        brokersChanged();
    }

    private void brokersChanged() {
        onlyBroker = connections.size() == 1 ? connections.values().iterator().next() : null;
    }

    private void dispatch(Connection c, WorkerCommand.Request request) {
        if (c.busyWith != null) {
            log.warn("worker for '{}' got a REQUEST from {} while serving another from it; dropped it", service,
                    c.endpoint);
            return;
        }
        c.busyWith = request.client();
        if (idleHandlers.isEmpty()) {
            waiting.add(new Waiting(c, c.generation, request));
        } else {
            run(c, request);
        }
    }

    private void run(Connection c, WorkerCommand.Request request) {
        HandlerThread h = idleHandlers.poll();
        int generation = c.generation;
        RoutingId client = request.client();
        if (inlineNext) {
            runInline(h, c, generation, client, request.body());
        } else {
            h.execute(() -> loop.post(handle(h, c, generation, client, request.body())));
        }
    }

    /**
     * Runs the handler on this, the I/O thread. If it runs long, the watchdog gives the I/O role to a
     * new thread meanwhile; then this thread posts the outcome like a handler thread and leaves.
     */
    private void runInline(HandlerThread h, Connection c, int generation, RoutingId client, Body request) {
        long run = handover.enter();
        Finished done = handle(h, c, generation, client, request);
        if (handover.leave(run)) {
            Thread.interrupted(); // an interrupt meant for the handler must not reach the loop's select
            if (done.partialsQueued) {
                loop.post(done); // behind the PARTIALs another thread queued, so the FINAL comes last
            } else {
                finished(done, ticker.nanoTime());
            }
        } else {
            loop.post(done);
            throw HandedOver.INSTANCE;
        }
    }

    /** Runs the handler for one request, on a handler thread or inline on the I/O thread. */
    private Finished handle(HandlerThread h, Connection c, int generation, RoutingId client, Body request) {
        long started = System.nanoTime();
        Sink partials = new Sink(c, generation, client);
        Finished done;
        try {
            Body reply = handler.handle(request, partials);
            if (reply == null || reply.isEmpty()) {
                throw new IllegalStateException("handler returned no FINAL body (null or no frames)");
            }
            done = new Finished(h, c, generation, client, new WorkerCommand.Final(client, reply), null,
                    System.nanoTime() - started < LoopHandover.HANDOVER_AFTER_NANOS, false);
        } catch (Exception | Error e) { // an Error too: else no FINAL ever goes and the worker stays busy
            done = new Finished(h, c, generation, client, null, e, false, false);
        }
        // Before the FINAL goes: a PARTIAL from a thread the handler gave the sink to must not follow it.
        boolean queued = partials.finish();
        return queued ? done.withPartialsQueued() : done;
    }

    /**
     * The PARTIALs of one request. Its count is of sends under way, plus {@link #FINISHED} once the
     * handler has returned: {@link #finish} waits for sends under way on other threads, so that none
     * can slip in after the FINAL.
     */
    private final class Sink extends java.util.concurrent.atomic.AtomicInteger implements RequestHandler.PartialSink {
        private static final int FINISHED = 1 << 30;
        private final Connection conn;
        private final int generation;
        private final RoutingId client;
        /** Whether a PARTIAL went through the loop's queue (posted, not sent on the spot). */
        private volatile boolean queued;

        Sink(Connection conn, int generation, RoutingId client) {
            this.conn = conn;
            this.generation = generation;
            this.client = client;
        }

        @Override
        public void send(Body partial) {
            if ((incrementAndGet() & FINISHED) != 0) {
                decrementAndGet();
                throw new IllegalStateException("the request was answered already");
            }
            try {
                partialRoom.acquire();
                Outgoing out = new Outgoing(conn, generation, new WorkerCommand.Partial(client, partial));
                // Inline, and still holding the I/O role: straight to the socket, live.
                if (handover == null || !handover.tryOnLoop(() -> MdpWorker.this.send(out, ticker.nanoTime()))) {
                    queued = true;
                    loop.post(out);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting to send a PARTIAL", e);
            } finally {
                decrementAndGet();
            }
        }

        /** Marks the handler's return, waits for sends under way; true if any PARTIAL was queued. */
        boolean finish() {
            addAndGet(FINISHED);
            // A send on another thread is under way: a few instructions, or waiting for room.
            for (int spins = 0; (get() & ~FINISHED) != 0; spins++) {
                if (spins < 100) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(100_000);
                }
            }
            return queued;
        }
    }

    private void send(Outgoing out, long now) {
        if (out.conn.generation != out.generation || out.conn.socket == null) {
            sent(out.command); // for a connection that is gone: its broker has dealt with that request
        } else {
            out.conn.send(out.command, now);
        }
    }

    /** A PARTIAL has left: its handler may queue another. */
    private void sent(WorkerCommand command) {
        if (command instanceof WorkerCommand.Partial) {
            partialRoom.release();
        }
    }

    private long pollTimeoutMillis(long now) {
        long wait = Long.MAX_VALUE;
        for (Connection c : connections.values()) {
            wait = Math.min(wait, c.nanosUntilDue(now));
        }
        if (wait == Long.MAX_VALUE) {
            return -1; // no broker yet: the resolver's answer wakes the loop
        }
        return wait <= 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(wait) + 1;
    }

    /** The worker's connection to one broker. Owned by the I/O thread. */
    private final class Connection {
        final String endpoint;
        ZMQ.Socket socket;
        EventLoop.Registration registration;
        /** Which socket of this broker's; a PARTIAL or FINAL made for an older one is dropped. */
        int generation;
        int connects;
        long reconnectAt;
        /** The broker's liveness: 18/MDP, silence for liveness x interval means it is gone. */
        Liveness broker;
        boolean heardSinceConnect;
        /** The loss of this broker was logged, and it has not been heard from since. */
        boolean lossLogged;
        long lastSent;
        RoutingId busyWith;
        /** Commands waiting for room in the socket, in order. */
        final ArrayDeque<WorkerCommand> outgoing = new ArrayDeque<>();

        Connection(String endpoint, long now) {
            this.endpoint = endpoint;
            this.reconnectAt = now;
        }

        void maintain(long now) {
            if (socket == null && now - reconnectAt >= 0) {
                connect(now);
            } else if (socket != null) {
                keepAlive(now);
            }
            if (socket != null) {
                // While commands wait for room in the socket, also wake when there is room.
                registration.events(outgoing.isEmpty() ? ZMQ.Poller.POLLIN : ZMQ.Poller.POLLIN | ZMQ.Poller.POLLOUT);
            }
        }

        long nanosUntilDue(long now) {
            return socket == null ? reconnectAt - now
                    : Math.min(lastSent + heartbeatNanos - now, broker.remainingNanos(now));
        }

        private void connect(long now) {
            try {
                socket = MdpSockets.connectDealer(context, endpoint, handshakeTimeout, curve);
            } catch (ZMQException | ZError.IOException e) {
                // Out of descriptors, say: this broker is tried again later; the others go on.
                log.warn("worker for '{}' cannot open a socket to {} ({}); trying again in {} ms", service, endpoint,
                        e.getMessage(), TimeUnit.NANOSECONDS.toMillis(reconnectNanos));
                socket = null;
                reconnectAt = now + Math.max(reconnectNanos, TimeUnit.MILLISECONDS.toNanos(100));
                return;
            }
            registration = loop.register(socket, ZMQ.Poller.POLLIN, this);
            generation++;
            connects++;
            busyWith = null;
            heardSinceConnect = false;
            broker = new Liveness(now, expiryNanos);
            send(new WorkerCommand.Ready(service), now);
            log.info("worker for '{}' connected to {} (connection {})", service, endpoint, connects);
        }

        private void keepAlive(long now) {
            if (broker.isExpired(now)) {
                // One WARN when a broker is lost; while it stays away, each further try is DEBUG.
                if (!lossLogged) {
                    log.warn("worker for '{}' heard nothing from {} for {} ms; reconnecting", service, endpoint,
                            TimeUnit.NANOSECONDS.toMillis(broker.silentNanos(now)));
                    lossLogged = true;
                } else {
                    log.debug("worker for '{}' still hears nothing from {}; reconnecting", service, endpoint);
                }
                dropSocket();
                reconnectAt = now + reconnectNanos;
            } else if (now - lastSent >= heartbeatNanos && outgoing.isEmpty()) {
                // 18/MDP: peers SHOULD NOT send HEARTBEAT while also sending other commands.
                send(WorkerCommand.Heartbeat.INSTANCE, now);
            }
        }

        void readCommands() {
            List<byte[]> frames;
            while (socket != null && (frames = MdpSockets.receive(socket)) != null) {
                handle(frames);
            }
        }

        /** Handles one message from the broker. */
        void handle(List<byte[]> frames) {
            MdpCommand command;
            try {
                command = MdpCodec.decode(frames);
            } catch (MalformedMessageException e) {
                log.debug("worker for '{}' dropped a malformed message: {}", service, e.getMessage());
                return;
            }
            if (!(command instanceof WorkerCommand workerCommand)) {
                log.debug("worker for '{}' dropped a client command: {}", service, command);
                return;
            }
            if (workerCommand instanceof WorkerCommand.Disconnect) {
                // 18/MDP: close the socket and reconnect on a new one.
                log.info("worker for '{}' was disconnected by {}; reconnecting", service, endpoint);
                dropSocket();
                reconnectAt = ticker.nanoTime() + reconnectNanos;
                return;
            }
            // 18/MDP: any command except DISCONNECT acts as a heartbeat.
            broker.heard(ticker.nanoTime(), expiryNanos);
            heardSinceConnect = true;
            lossLogged = false;
            if (workerCommand instanceof WorkerCommand.Request request) {
                dispatch(this, request);
            } else if (!(workerCommand instanceof WorkerCommand.Heartbeat)) {
                log.debug("worker for '{}' dropped an unexpected {}", service, workerCommand.type());
            }
        }

        void handlerFailed(RoutingId client, Throwable failure, long now) {
            if (errorReply != null) {
                Body reply = null;
                try {
                    reply = failure instanceof Exception ex ? errorReply.apply(ex) : null;
                } catch (RuntimeException e) {
                    log.warn("the error reply function of worker '{}' threw", service, e);
                }
                if (reply != null && !reply.isEmpty()) {
                    log.warn("handler of '{}' failed; answering with the error reply", service, failure);
                    send(new WorkerCommand.Final(client, reply), now);
                    busyWith = null;
                    return;
                }
            }
            log.warn("handler of '{}' failed; reconnecting to {} so the broker can give the request to another "
                    + "worker", service, endpoint, failure);
            send(WorkerCommand.Disconnect.INSTANCE, now);
            dropSocket();
            reconnectAt = now;
        }

        /**
         * Sends on the current socket, or queues behind commands still waiting for room in it, so
         * that nothing is dropped and order is kept. {@code now} is the loop turn's time, so one turn
         * sees one clock.
         */
        void send(WorkerCommand command, long now) {
            if (outgoing.isEmpty() && MdpSockets.send(socket, command)) {
                sent(command);
            } else {
                outgoing.add(command);
            }
            registration.touched();
            lastSent = now;
        }

        void flushOutgoing() {
            WorkerCommand next;
            while ((next = outgoing.peek()) != null && MdpSockets.send(socket, next)) {
                outgoing.poll();
                sent(next);
            }
        }

        void dropSocket() {
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
    }

    private record Outgoing(Connection conn, int generation, WorkerCommand command) {}

    /** A handler's end of one request: its FINAL, or the failure. */
    /**
     * @param quick whether the handler took less than {@link LoopHandover#HANDOVER_AFTER_NANOS}
     * @param partialsQueued whether a PARTIAL of it went through the loop's queue
     */
    private record Finished(HandlerThread handler, Connection conn, int generation, RoutingId client,
            WorkerCommand.Final reply, Throwable failure, boolean quick, boolean partialsQueued) {
        Finished withPartialsQueued() {
            return new Finished(handler, conn, generation, client, reply, failure, quick, true);
        }
    }

    /** Unwinds a thread that lost the I/O role while it ran a handler inline. */
    private static final class HandedOver extends RuntimeException {
        static final HandedOver INSTANCE = new HandedOver();

        private HandedOver() {
            super(null, null, false, false);
        }
    }

    private record Waiting(Connection conn, int generation, WorkerCommand.Request request) {}

    private record Resolved(Set<String> endpoints) {}

    private record StateQuery(CompletableFuture<List<ConnectionState>> answer) {}

    private enum Stop { INSTANCE }

    /** Settings for an {@link MdpWorker}. */
    public static final class Builder {
        private final List<String> endpoints;
        private final String service;
        private Duration heartbeatInterval = Duration.ofMillis(2500);
        private int liveness = 3;
        private Duration reconnectDelay = Duration.ofMillis(1000);
        private Ticker ticker = Ticker.system();
        private Duration handshakeTimeout = MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT;
        private CurveClientKeys curve;
        private ZContext context;
        private Function<Exception, Body> errorReply;
        private int maxInFlight = 1;
        private boolean inlineHandlers = true;
        private Duration resolveEvery;
        private HostResolver resolver = HostResolver.SYSTEM;

        private Builder(List<String> endpoints, String service) {
            this.endpoints = List.copyOf(endpoints);
            if (this.endpoints.isEmpty()) {
                throw new IllegalArgumentException("a worker needs at least one broker endpoint");
            }
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
         * workers of this process that were given none, which lives as long as the process (the clients have
         * another: see {@link org.mdpgateway.mdp.internal.SharedContext} for why).
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

        /**
         * How many requests the worker serves at once, across all its brokers; each runs on a
         * handler thread of its own. A broker gives a worker one request at a time per connection, so
         * with several brokers a request may wait here for a handler. Default 1.
         */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = (int) Require.atLeast(maxInFlight, 1, "maxInFlight");
            return this;
        }

        /**
         * Whether a short handler may run on the I/O thread itself (see {@link MdpWorker}); with
         * {@code false} every request goes to the handler thread and back, two more thread
         * wake-ups per request. Inline costs less CPU under load (the bench's {@code gateway-8w}:
         * about a quarter less in the workers' process); one sequential client is served alike either
         * way ({@code libs-worker-seq}). {@code false} suits handlers that must never share the
         * thread that heartbeats, even for the 10 ms before a hand-over. Applies with one request in
         * flight; with more, handlers always run on handler threads. Default true.
         */
        public Builder inlineHandlers(boolean inline) {
            this.inlineHandlers = inline;
            return this;
        }

        /**
         * Treats the host of each {@code tcp://host:port} endpoint as a list of brokers: the worker
         * connects to every IPv4 address the name resolves to, and resolves it again every
         * {@code every}, connecting to brokers that appeared and dropping those that vanished (a
         * Kubernetes headless Service gives one address per broker pod). Default: off, each endpoint
         * is one broker.
         */
        public Builder resolveBrokers(Duration every) {
            this.resolveEvery = Require.positive(every, "resolve interval");
            return this;
        }

        /** How {@link #resolveBrokers} looks a name up. Default: the system's resolver. */
        public Builder resolver(HostResolver resolver) {
            this.resolver = Objects.requireNonNull(resolver, "resolver");
            return this;
        }

        /** Starts a worker that serves requests with {@code handler}. */
        public MdpWorker start(RequestHandler handler) {
            return new MdpWorker(this, Objects.requireNonNull(handler, "handler"));
        }
    }
}
