package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.security.CurveClientKeys;

import org.mdpgateway.mdp.internal.Require;

import org.mdpgateway.mdp.MalformedMessageException;
import org.mdpgateway.mdp.MdpException;
import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.Ticker;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.HostResolver;
import org.mdpgateway.mdp.internal.BrokerResolver;
import org.mdpgateway.mdp.internal.MdpSockets;
import org.mdpgateway.mdp.internal.SharedContext;
import org.mdpgateway.mdp.internal.EventLoop;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;
import zmq.ZError;

/**
 * An MDP/Client (18/MDP) for one broker, or several. Thread safe: any number of threads may call it
 * at once.
 *
 * <p>MDP/Client allows one outstanding request per socket, so the client keeps a DEALER socket per
 * request in flight, taken from a pool of idle ones, all owned by one I/O thread. When no reply
 * arrives within the timeout, it follows the strategy 18/MDP recommends: it closes that socket, opens
 * a new one and resends, and fails the request after the configured number of attempts. A request
 * whose PARTIALs have started to arrive is never resent, since that would repeat output. Given
 * several brokers, requests start on them in turn and each resend goes to the next one: failover is
 * the client's job (18/MDP, Reliability). With {@link Builder#resolveBrokers} a broker's host name
 * stands for every IPv4 address it resolves to, looked up again now and then.
 *
 * <p>Threads: the sockets, the calls in flight and the pool belong to the I/O thread; a calling thread
 * hands it a call through the {@link EventLoop}'s queue and waits on the call's future. A blocking
 * {@link #request} is the exception: it runs on its caller's thread with a socket of its own from a
 * second pool (see {@code BlockingCalls}), which saves two thread wake-ups per request. With brokers
 * found by DNS a resolver thread of the client's replaces the rotation's list and tells both pools,
 * which close their idle sockets to brokers that are gone.
 *
 * <pre>{@code
 * try (MdpClient client = MdpClient.connect("tcp://localhost:5555")) {
 *     Reply reply = client.request("echo", Body.ofStrings("hello"));
 * }
 * }</pre>
 */
public final class MdpClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MdpClient.class);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

    private final String endpoint;
    private final BrokerRotation brokers;
    private final Duration defaultTimeout;
    private final int maxAttempts;
    private final int maxInFlight;
    private final int maxIdleSockets;
    private final Ticker ticker;
    private final Duration handshakeTimeout;
    private final CurveClientKeys curve;

    private final ZContext context;
    /** Its queue is how other threads reach the I/O thread; the rest of it belongs to that thread. */
    private final EventLoop<Object> loop = new EventLoop<>();
    /** {@link #request} on the caller's thread; null when a test's ticker drives the deadlines. */
    private final BlockingCalls blockingCalls;
    private final Thread ioThread;
    /** Looks the brokers' names up again now and then; null unless {@link Builder#resolveBrokers}. */
    private final ScheduledExecutorService resolverThread;
    private volatile boolean closed;
    private volatile boolean loopEnded;

    // Owned by the I/O thread.
    /** Idle sockets for each broker, by its endpoint. */
    private final Map<String, ArrayDeque<Conn>> idleSockets = new HashMap<>();
    /** The calls with a socket, the first {@link #activeCount}; see {@link Call#activeIndex}. */
    private Call[] active = new Call[16];
    private int activeCount;
    /** No active call's deadline is earlier; meaningless while none is active. */
    private long earliestDeadline;
    private final ArrayDeque<Call> waiting = new ArrayDeque<>();

    private MdpClient(Builder b) {
        this.brokers = new BrokerRotation(b.endpoints);
        this.endpoint = String.join(",", brokers.configured());
        BrokerResolver resolver = b.resolveEvery == null ? null
                : new BrokerResolver(b.endpoints, b.resolver, "MDP client for " + endpoint);
        if (resolver != null) {
            // The first answer before any request, on the builder's thread; later ones on the resolver's.
            brokers.set(resolver.resolveAll());
        }
        this.defaultTimeout = b.timeout;
        this.maxAttempts = b.attempts;
        this.maxInFlight = b.maxInFlight;
        this.maxIdleSockets = b.maxIdleSockets;
        this.ticker = b.ticker;
        this.handshakeTimeout = b.handshakeTimeout;
        this.curve = b.curve;
        this.context = b.context == null ? SharedContext.forClients() : b.context;
        // With a clock of its own (a test's), every request goes through the I/O thread, which reads it.
        this.blockingCalls = b.tickerGiven ? null
                : new BlockingCalls(context, brokers, handshakeTimeout, curve, maxAttempts, maxIdleSockets, () -> closed);
        this.ioThread = new Thread(this::runLoop, "mdp-client-" + endpoint);
        this.ioThread.setDaemon(true);
        this.ioThread.start();
        this.resolverThread = resolver == null ? null
                : resolver.every(b.resolveEvery, b.resolveEvery, "mdp-client-" + endpoint + "-resolver", found -> {
                    brokers.set(found);
                    loop.post(BrokersChanged.INSTANCE);
                    if (blockingCalls != null) {
                        blockingCalls.closeIdleNotIn(brokers);
                    }
                });
        log.debug("MDP client for {} started (brokers {})", endpoint, brokers.endpoints());
    }

    /** A client for {@code endpoint} with the default settings. */
    public static MdpClient connect(String endpoint) {
        return builder(endpoint).build();
    }

    public static Builder builder(String endpoint) {
        return new Builder(List.of(Objects.requireNonNull(endpoint, "endpoint")));
    }

    /** A client of every broker of {@code endpoints}; see the class comment for how it uses them. */
    public static Builder builder(List<String> endpoints) {
        return new Builder(Objects.requireNonNull(endpoints, "endpoints"));
    }

    /**
     * The brokers requests go to now: the endpoints given, or with {@link Builder#resolveBrokers}
     * what their names resolved to last.
     */
    public List<String> brokers() {
        return brokers.endpoints();
    }

    /** The broker endpoint, or the brokers' endpoints separated by commas. */
    public String endpoint() {
        return endpoint;
    }

    /** Sends a request and blocks until its FINAL, with the default timeout. */
    public Reply request(String service, Body body) {
        return request(service, body, defaultTimeout);
    }

    /**
     * Sends a request and blocks until its FINAL.
     *
     * @param timeout how long each attempt waits for the FINAL
     * @throws RequestTimeoutException when no FINAL came after every attempt
     * @throws ClientClosedException when the client is closed meanwhile
     */
    public Reply request(String service, Body body, Duration timeout) {
        if (blockingCalls == null) {
            return await(submit(service, body, timeout, null));
        }
        // On this thread, with a socket of the client's: no hand-over to the I/O thread and back.
        return blockingCalls.request(new ClientCommand.Request(service, body), Require.positive(timeout, "timeout"));
    }

    /**
     * Sends a request, hands each PARTIAL to {@code onPartial} on the calling thread as it arrives, and
     * returns the FINAL's body. If {@code onPartial} throws, the request is abandoned and the exception
     * propagates.
     */
    public Body stream(String service, Body body, Duration timeout, Consumer<Body> onPartial) {
        // The I/O thread hands over every PARTIAL before it completes the future, so DONE comes last.
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        CompletableFuture<Reply> future = submit(service, body, timeout, events::add);
        future.whenComplete((reply, failure) -> events.add(Stop.INSTANCE));
        try {
            Object event;
            while ((event = events.take()) != Stop.INSTANCE) {
                onPartial.accept((Body) event);
            }
            return await(future).finalBody();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new MdpException("interrupted while waiting for a reply from '" + service + "'", e);
        } catch (RuntimeException e) {
            future.cancel(true);
            throw e;
        }
    }

    /** {@link #stream(String, Body, Duration, Consumer)} with the default timeout. */
    public Body stream(String service, Body body, Consumer<Body> onPartial) {
        return stream(service, body, defaultTimeout, onPartial);
    }

    /** Sends a request without blocking; the future completes with every part. */
    public CompletableFuture<Reply> submit(String service, Body body) {
        return submit(service, body, defaultTimeout, null);
    }

    /**
     * Sends a request without blocking. The future completes with the reply, or fails with
     * {@link RequestTimeoutException} or {@link ClientClosedException}. Cancelling it abandons the
     * request: its socket is closed so no late reply can be mistaken for another's.
     *
     * @param listener receives each PARTIAL on the I/O thread, or null to collect them in the reply
     */
    public CompletableFuture<Reply> submit(String service, Body body, Duration timeout, PartialListener listener) {
        Call call = new Call(new ClientCommand.Request(service, body), Require.positive(timeout, "timeout").toNanos(), listener);
        if (closed) {
            call.future.completeExceptionally(new ClientClosedException("client for " + endpoint + " is closed"));
            return call.future;
        }
        call.future.whenComplete((r, e) -> {
            if (call.future.isCancelled()) {
                loop.post(new Cancel(call));
            }
        });
        loop.post(call);
        if (loopEnded) {
            failQueued(); // the loop ended between our check and our post
        }
        return call.future;
    }

    private static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new MdpException("interrupted while waiting for a reply", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new MdpException(cause.toString(), cause);
        } catch (CancellationException e) {
            throw new MdpException("request was cancelled", e);
        }
    }

    /**
     * Closes the client: requests in flight fail with {@link ClientClosedException} and every socket
     * is closed without lingering.
     */
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
        if (Thread.currentThread() != ioThread) {
            try {
                ioThread.join(CLOSE_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Wakes the I/O thread so it re-reads its ticker; for tests that move a fake ticker. */
    void wakeUp() {
        loop.wake();
    }

    // ---- I/O thread ----------------------------------------------------------------------------

    private void runLoop() {
        try {
            while (true) {
                if (drainInbox()) {
                    break;
                }
                long now = ticker.nanoTime();
                if (activeCount > 0 && now - earliestDeadline >= 0) {
                    expireDeadlines(now);
                }
                startWaiting(now);
                int ready = loop.poll(pollTimeoutMillis(now));
                for (int i = 0; i < ready; i++) {
                    Conn conn = (Conn) loop.ready(i).attachment();
                    if (conn.call != null) {
                        readReplies(conn.call);
                    } else if (!conn.closed) {
                        dropStale(conn);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            log.error("MDP client I/O thread for {} failed", endpoint, e);
            throw e;
        } finally {
            closed = true;
            loopEnded = true;
            ClientClosedException reason = new ClientClosedException("client for " + endpoint + " is closed");
            for (int i = 0; i < activeCount; i++) {
                Call call = active[i];
                call.future.completeExceptionally(reason);
                discard(call.conn);
            }
            for (ArrayDeque<Conn> pool : idleSockets.values()) {
                pool.forEach(MdpClient::discard);
            }
            for (Call call : waiting) {
                call.future.completeExceptionally(reason);
            }
            failQueued();
            loop.close();
            if (blockingCalls != null) {
                blockingCalls.closeIdle();
            }
            log.debug("MDP client for {} closed", endpoint);
        }
    }

    /** Handles what other threads posted; true when the client is stopping. */
    private boolean drainInbox() {
        Object item;
        while ((item = loop.next()) != null) {
            if (item instanceof Call call) {
                if (!call.future.isDone()) {
                    waiting.add(call);
                }
            } else if (item instanceof Cancel cancel) {
                abandon(cancel.call);
            } else if (item == Stop.INSTANCE) {
                return true;
            } else if (item == BrokersChanged.INSTANCE) {
                closeIdleToBrokersGone();
            }
        }
        return false;
    }

    /** Closes the idle sockets to brokers no longer in the rotation. */
    private void closeIdleToBrokersGone() {
        idleSockets.entrySet().removeIf(pool -> {
            if (brokers.contains(pool.getKey())) {
                return false;
            }
            pool.getValue().forEach(MdpClient::discard);
            return true;
        });
    }

    private void failQueued() {
        Object item;
        ClientClosedException reason = null;
        while ((item = loop.next()) != null) {
            if (item instanceof Call call) {
                if (reason == null) {
                    reason = new ClientClosedException("client for " + endpoint + " is closed");
                }
                call.future.completeExceptionally(reason);
            }
        }
    }

    private void startWaiting(long now) {
        while (activeCount < maxInFlight && !waiting.isEmpty()) {
            Call call = waiting.poll();
            if (call.future.isDone()) {
                continue;
            }
            Conn conn = takeSocketOrFail(call);
            if (conn == null) {
                continue;
            }
            useConn(call, conn);
            addActive(call);
            send(call, now);
        }
    }

    /**
     * A socket for {@code call}, or null when none can be opened (out of file descriptors, say): that
     * one request fails with the reason, and the client goes on serving the others.
     */
    private Conn takeSocketOrFail(Call call) {
        try {
            call.firstBroker = brokers.start();
            return takeSocket(brokers.endpoint(call.firstBroker, 0));
        } catch (ZMQException | ZError.IOException e) {
            call.future.completeExceptionally(cannotOpenSocket(e));
            return null;
        }
    }

    private MdpException cannotOpenSocket(RuntimeException cause) {
        return new MdpException("cannot open a socket to " + endpoint + " (" + cause.getMessage()
                + "); fewer requests in flight (maxInFlight) or a higher file-descriptor limit would help", cause);
    }

    private void send(Call call, long now) {
        call.attempts++;
        call.deadline = now + call.timeoutNanos;
        if (activeCount == 1 || call.deadline - earliestDeadline < 0) {
            earliestDeadline = call.deadline;
        }
        boolean queued = MdpSockets.send(call.conn.socket, call.request);
        call.conn.registration.touched();
        if (log.isDebugEnabled()) {
            if (queued) {
                log.debug("sent request to '{}', attempt {}", call.request.service(), call.attempts);
            } else {
                // The socket's queue is full: the deadline passes and the retry opens a new socket.
                log.debug("request to '{}' could not be queued on attempt {}", call.request.service(), call.attempts);
            }
        }
    }

    /** Runs once the earliest deadline may have passed; finds the next one. */
    private void expireDeadlines(long now) {
        for (int i = activeCount - 1; i >= 0; i--) {
            Call call = active[i];
            if (now - call.deadline < 0) {
                continue;
            }
            // 18/MDP: close the socket, open a new one and resend; give up after several tries.
            discard(call.conn);
            Conn fresh = null;
            RuntimeException cannotOpen = null;
            if (call.partialsReceived == 0 && call.attempts < maxAttempts) {
                try {
                    fresh = newSocket(brokerOfNextAttempt(call));
                } catch (ZMQException | ZError.IOException e) {
                    cannotOpen = e;
                }
            }
            if (fresh != null) {
                useConn(call, fresh);
                log.debug("no reply from '{}' in time, resending on a new socket", call.request.service());
                send(call, now);
            } else if (cannotOpen != null) {
                useConn(call, null);
                removeActive(call);
                call.future.completeExceptionally(cannotOpenSocket(cannotOpen));
            } else {
                useConn(call, null);
                removeActive(call);
                call.future.completeExceptionally(new RequestTimeoutException(call.request.service(),
                        Duration.ofNanos(call.timeoutNanos), call.attempts, call.partialsReceived));
            }
        }
        if (activeCount > 0) {
            long earliest = active[0].deadline;
            for (int i = 1; i < activeCount; i++) {
                if (active[i].deadline - earliest < 0) {
                    earliest = active[i].deadline;
                }
            }
            earliestDeadline = earliest;
        }
    }

    private void readReplies(Call call) {
        List<byte[]> frames;
        while (call.conn != null && (frames = MdpSockets.receive(call.conn.socket)) != null) {
            ClientCommand reply = replyFor(frames, call.request.service());
            if (reply == null) {
                continue;
            }
            if (reply instanceof ClientCommand.Partial) {
                call.partialsReceived++;
                if (call.listener != null) {
                    deliverPartial(call, reply.body());
                } else {
                    call.partials().add(reply.body());
                }
            } else {
                finish(call, reply.body());
            }
        }
    }

    /**
     * The PARTIAL or FINAL for {@code service} that {@code frames} hold, or null for anything else,
     * which is dropped: a malformed message, a request, or a reply for another service.
     */
    static ClientCommand replyFor(List<byte[]> frames, String service) {
        MdpCommand command;
        try {
            command = MdpCodec.decode(frames);
        } catch (MalformedMessageException e) {
            log.debug("dropped a malformed reply for '{}': {}", service, e.getMessage());
            return null;
        }
        if (!(command instanceof ClientCommand reply) || reply.type() == MdpProtocol.ClientCommandType.REQUEST
                || !reply.service().equals(service)) {
            log.debug("dropped an unexpected reply for '{}': {}", service, command);
            return null;
        }
        return reply;
    }

    /** An idle socket got a message: a well-behaved broker sends nothing after a FINAL. */
    private static void dropStale(Conn conn) {
        dropStale(conn.socket);
    }

    /** Drops what a reused socket holds; a well-behaved broker sends nothing after a FINAL. */
    static void dropStale(ZMQ.Socket socket) {
        while (MdpSockets.receive(socket) != null) {
            log.debug("dropped a reply that arrived after a FINAL");
        }
    }

    private void deliverPartial(Call call, Body partial) {
        try {
            call.listener.onPartial(partial);
        } catch (RuntimeException e) {
            log.warn("a partial listener for '{}' threw; the request is abandoned", call.request.service(), e);
            call.future.completeExceptionally(e);
            abandon(call);
        }
    }

    private void finish(Call call, Body finalBody) {
        Conn conn = call.conn;
        useConn(call, null);
        removeActive(call);
        releaseSocket(conn);
        call.future.complete(new Reply(call.request.service(),
                call.partials == null ? List.of() : call.partials, finalBody));
    }

    /** Drops a call that was cancelled or failed; its socket may still receive a reply, so close it. */
    private void abandon(Call call) {
        if (call.activeIndex >= 0) {
            discard(call.conn);
            useConn(call, null);
            removeActive(call);
        } else {
            waiting.remove(call);
        }
    }

    private static void useConn(Call call, Conn conn) {
        if (call.conn != null) {
            call.conn.call = null;
        }
        call.conn = conn;
        if (conn != null) {
            conn.call = call;
        }
    }

    private void addActive(Call call) {
        if (activeCount == active.length) {
            active = Arrays.copyOf(active, activeCount * 2);
        }
        call.activeIndex = activeCount;
        active[activeCount++] = call;
    }

    /** Removes in constant time by moving the last active call into the gap. */
    private void removeActive(Call call) {
        int index = call.activeIndex;
        Call last = active[--activeCount];
        active[activeCount] = null;
        if (last != call) {
            active[index] = last;
            last.activeIndex = index;
        }
        call.activeIndex = -1;
    }

    private long pollTimeoutMillis(long now) {
        if (!waiting.isEmpty() && activeCount < maxInFlight) {
            return 0;
        }
        if (activeCount == 0) {
            return -1;
        }
        long earliest = earliestDeadline - now;
        return earliest <= 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(earliest) + 1;
    }

    private Conn takeSocket(String broker) {
        ArrayDeque<Conn> pool = idleSockets.get(broker);
        Conn conn = pool == null ? null : pool.poll();
        if (conn == null) {
            return newSocket(broker);
        }
        dropStale(conn);
        return conn;
    }

    private Conn newSocket(String broker) {
        ZMQ.Socket socket = MdpSockets.connectDealer(context, broker, handshakeTimeout, curve);
        Conn conn = new Conn(socket, broker);
        conn.registration = loop.register(socket, ZMQ.Poller.POLLIN, conn);
        return conn;
    }

    private void releaseSocket(Conn conn) {
        ArrayDeque<Conn> pool = brokers.contains(conn.broker)
                ? idleSockets.computeIfAbsent(conn.broker, k -> new ArrayDeque<>()) : null;
        if (pool != null && pool.size() < maxIdleSockets) {
            pool.push(conn);
        } else {
            discard(conn);
        }
    }

    /** The broker of the call's next attempt. */
    private String brokerOfNextAttempt(Call call) {
        return brokers.endpoint(call.firstBroker, call.attempts);
    }

    private static void discard(Conn conn) {
        if (conn != null && !conn.closed) {
            conn.closed = true;
            conn.registration.cancel();
            conn.socket.close();
        }
    }


    /** One request from submission to its FINAL or failure. Fields belong to the I/O thread. */
    private static final class Call {
        final ClientCommand.Request request;
        final long timeoutNanos;
        final PartialListener listener;
        /** The PARTIALs collected so far; made when the first arrives. */
        List<Body> partials;
        final CompletableFuture<Reply> future = new CompletableFuture<>();
        /** The socket the call waits on, or null. */
        Conn conn;
        /** Where the call is in {@code active}, or -1. */
        int activeIndex = -1;
        int attempts;
        /** Where in the rotation its first attempt went ({@link BrokerRotation#start}); each resend goes to the next. */
        int firstBroker;
        int partialsReceived;
        long deadline;

        Call(ClientCommand.Request request, long timeoutNanos, PartialListener listener) {
            this.request = request;
            this.timeoutNanos = timeoutNanos;
            this.listener = listener;
        }

        List<Body> partials() {
            if (partials == null) {
                partials = new ArrayList<>();
            }
            return partials;
        }
    }

    /**
     * One DEALER socket, registered with the loop for as long as it is open, and the call it serves
     * (null while idle in the pool). Belongs to the I/O thread.
     */
    private static final class Conn {
        final ZMQ.Socket socket;
        /** Its broker's endpoint. */
        final String broker;
        EventLoop.Registration registration;
        Call call;
        boolean closed;

        Conn(ZMQ.Socket socket, String broker) {
            this.socket = socket;
            this.broker = broker;
        }
    }

    private record Cancel(Call call) {}

    private enum Stop { INSTANCE }

    /** The resolver thread changed the rotation's brokers. */
    private enum BrokersChanged { INSTANCE }

    /** Settings for an {@link MdpClient}. */
    public static final class Builder {
        private final List<String> endpoints;
        private Duration timeout = Duration.ofMillis(2500);
        private int attempts = 3;
        private int maxInFlight = 1024;
        private int maxIdleSockets = 16;
        private Ticker ticker = Ticker.system();
        private boolean tickerGiven;
        private Duration handshakeTimeout = MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT;
        private CurveClientKeys curve;
        private ZContext context;
        private Duration resolveEvery;
        private HostResolver resolver = HostResolver.SYSTEM;

        private Builder(List<String> endpoints) {
            this.endpoints = List.copyOf(endpoints);
            if (this.endpoints.isEmpty()) {
                throw new IllegalArgumentException("a client needs at least one broker endpoint");
            }
        }

        /** How long one attempt waits for the FINAL before the request is resent. Default 2500 ms. */
        public Builder timeout(Duration timeout) {
            this.timeout = Require.positive(timeout, "timeout");
            return this;
        }

        /** How many times a request is sent before it fails with a timeout. Default 3. */
        public Builder attempts(int attempts) {
            this.attempts = (int) Require.atLeast(attempts, 1, "attempts");
            return this;
        }

        /**
         * How many requests may be outstanding at once, each on its own socket; more wait in
         * submission order. Default 1024.
         */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = (int) Require.atLeast(maxInFlight, 1, "maxInFlight");
            return this;
        }

        /** How many idle sockets are kept connected for reuse. Default 16. */
        public Builder maxIdleSockets(int maxIdleSockets) {
            if (maxIdleSockets < 0) {
                throw new IllegalArgumentException("maxIdleSockets must not be negative, got " + maxIdleSockets);
            }
            this.maxIdleSockets = maxIdleSockets;
            return this;
        }

        /**
         * Connects with CURVE: the broker's public key and this client's key pair, whose public key the
         * broker must allow. Default: none (a NULL connection, which a broker admits from loopback only
         * unless told otherwise).
         */
        public Builder curve(CurveClientKeys keys) {
            this.curve = Objects.requireNonNull(keys, "keys");
            return this;
        }

        /** As {@link #curve(CurveClientKeys)}, from the broker's public certificate and this client's secret one. */
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
         * clients of this process that were given none, which lives as long as the process (the workers have
         * another: see {@link org.mdpgateway.mdp.internal.SharedContext} for why).
         */
        public Builder context(ZContext context) {
            this.context = Objects.requireNonNull(context, "context");
            return this;
        }

        /**
         * Treats the host of each {@code tcp://host:port} endpoint as a list of brokers: requests and
         * their resends rotate over every IPv4 address the name resolves to, looked up when the
         * client is built and again every {@code every} (a Kubernetes headless Service gives one
         * address per broker pod). While a name resolves to nothing the endpoints are used as given.
         * Default: off, each endpoint is one broker.
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

        /** The clock for deadlines. Default: the system's monotonic clock. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            this.tickerGiven = true;
            return this;
        }

        public MdpClient build() {
            return new MdpClient(this);
        }
    }
}
