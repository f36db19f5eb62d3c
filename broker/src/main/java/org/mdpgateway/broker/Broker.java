package org.mdpgateway.broker;

import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.Ticker;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.internal.MdpSockets;
import org.mdpgateway.mdp.security.CurveCertificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * A running Majordomo broker: one ROUTER socket for clients and workers, bound to every configured
 * endpoint, and one event-loop thread that owns the socket and all broker state.
 *
 * <p>Other threads use {@link #submit} to send requests from this process without a socket each,
 * {@link #stats()} to read the counters and {@link #close()} to stop it; each hands a message to the
 * loop through a lock-free inbox. Thread safe.
 */
public final class Broker implements RequestBroker, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Broker.class);
    /** Messages read from the socket before the loop looks at its inbox and clock again. */
    private static final int READ_BATCH = 512;
    private static final Duration STOP_WAIT = Duration.ofSeconds(5);
    /** Messages the socket holds for one peer that is slow to read, before it drops. */
    static final int SEND_QUEUE_PER_PEER = 100_000;

    private final BrokerConfig config;
    private final Ticker ticker;
    private final RouterInbox<Object> inbox = new RouterInbox<>();
    /** Where the broker's sockets live; closed by the broker only when it made it. */
    private final ZContext context;
    private final boolean ownsContext;
    private final Thread loopThread;
    private final CountDownLatch started = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicReference<RuntimeException> startFailure = new AtomicReference<>();
    private volatile List<String> boundEndpoints = List.of();
    private volatile boolean closed;
    private volatile boolean closedByCaller;
    /** Set once the loop reads its inbox no more; only then may other threads drain it. */
    private volatile boolean loopEnded;

    private Broker(BrokerConfig config, Ticker ticker, ZContext context) {
        this.config = config;
        this.ticker = ticker;
        this.ownsContext = context == null;
        this.context = ownsContext ? new ZContext(1) : context;
        this.loopThread = new Thread(this::runLoop, "mdp-broker");
    }

    /** Binds the broker's socket and starts its loop; throws if an endpoint cannot be bound. */
    public static Broker start(BrokerConfig config) {
        return start(config, Ticker.system());
    }

    /**
     * As {@link #start(BrokerConfig)}, with the broker's sockets in {@code context}, which stays the
     * caller's: the broker closes only its own sockets, and the caller closes the context once the
     * broker and every other socket in it are closed. Peers in this process that share the context
     * reach the broker over an {@code inproc://} endpoint in {@link BrokerConfig#bindEndpoints()},
     * without TCP or the context's I/O thread.
     */
    public static Broker start(BrokerConfig config, ZContext context) {
        return start(config, Ticker.system(), Objects.requireNonNull(context, "context"));
    }

    /** As {@link #start(BrokerConfig)}, with the clock for heartbeats, expiry and deadlines. */
    public static Broker start(BrokerConfig config, Ticker ticker) {
        return start(config, ticker, null);
    }

    private static Broker start(BrokerConfig config, Ticker ticker, ZContext context) {
        if (config.bindEndpoints().isEmpty()) {
            throw new IllegalArgumentException("the broker needs at least one endpoint to bind");
        }
        Broker broker = new Broker(config, Objects.requireNonNull(ticker, "ticker"), context);
        broker.loopThread.start();
        try {
            broker.started.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            broker.close();
            throw new IllegalStateException("interrupted while the broker was starting", e);
        }
        RuntimeException failure = broker.startFailure.get();
        if (failure != null) {
            broker.close();
            throw failure;
        }
        return broker;
    }

    public BrokerConfig config() {
        return config;
    }

    /** The endpoints the socket is bound to, with wildcard ports resolved. */
    @Override
    public List<String> boundEndpoints() {
        return boundEndpoints;
    }

    /**
     * Waits until the broker's loop has ended, by {@link #close()} or by a failure.
     *
     * @return true if it was closed, false if its loop failed
     */
    public boolean awaitStop() throws InterruptedException {
        stopped.await();
        return closedByCaller;
    }

    @Override
    public boolean isRunning() {
        return !closed && stopped.getCount() > 0;
    }

    @Override
    public RequestHandle submit(String service, Body body, Duration timeout, ReplyHandler handler) {
        MdpProtocol.requireValidServiceName(service);
        Objects.requireNonNull(handler, "handler");
        if (body.isEmpty()) {
            throw new IllegalArgumentException("a request needs at least one body frame");
        }
        long submittedAt = ticker.nanoTime();
        long deadline = timeout == null ? Long.MAX_VALUE : submittedAt + timeout.toNanos();
        Submit submit = new Submit(service, body, submittedAt, deadline, handler);
        if (!isRunning()) {
            handler.onFailure(new RequestFailure(RequestFailure.Reason.BROKER_STOPPED, "the broker is not running"));
            return submit;
        }
        inbox.post(submit);
        if (loopEnded) {
            failUnhandled();
        }
        return submit;
    }

    /** A snapshot of every service's counters, taken on the broker thread. */
    @Override
    public CompletableFuture<List<ServiceStats>> stats() {
        StatsQuery query = new StatsQuery(new CompletableFuture<>());
        if (!isRunning()) {
            query.result.complete(List.of());
            return query.result;
        }
        inbox.post(query);
        if (loopEnded) {
            failUnhandled();
        }
        return query.result;
    }

    /** Stops the broker: every worker gets DISCONNECT, every in-process request fails, the socket closes. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closedByCaller = true;
        closed = true;
        inbox.post(Stop.INSTANCE);
        if (Thread.currentThread() != loopThread && loopThread.isAlive()) {
            try {
                if (!stopped.await(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    log.warn("broker loop did not stop within {} ms", STOP_WAIT.toMillis());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- the loop thread -----------------------------------------------------------------------

    /** Whether the socket is a CURVE server, so messages carry their connection's key. Loop thread only. */
    private boolean receivesKeys;
    /** The key of the message {@link #receiveWithKey} read last. Loop thread only. */
    private String lastKey;
    /** Whether that message came over the network without a key. Loop thread only. */
    private boolean lastUnvouched;
    private final RateLimitedWarning unvouched =
            new RateLimitedWarning(log, "messages dropped: their CURVE connection has no key from the ZAP handler");

    private void runLoop() {
        ZMQ.Socket router = null;
        BrokerCore core = null;
        ZapHandler zap = null;
        try {
            BrokerSecurity security = config.security();
            PeerPolicy policy = PeerPolicy.OPEN;
            java.util.function.Consumer<String> onAdmitted = key -> { };
            router = context.createSocket(SocketType.ROUTER);
            if (security.curve()) {
                CurveCertificate own = CurveCertificate.loadSecret(security.curveSecretKeyFile());
                // Validated here, on this thread, so a bad directory or ACL stops the start.
                CurvePolicy curve = new CurvePolicy(new AllowedKeysDirectory(security.curveAllowedDir()),
                        security.aclFile() != null ? loadAcl(security.aclFile()) : null, ticker.nanoTime());
                policy = curve;
                onAdmitted = curve::admitted;
                router.setCurveServer(true);
                router.setCurveSecretKey(own.secretKeyBytes());
                receivesKeys = true;
                log.info("broker CURVE public key {}", own.publicKey());
            }
            zap = ZapHandler.start(context, security, onAdmitted);
            if (zap != null) {
                router.setZAPDomain(ZapHandler.DOMAIN);
            }
            // Long enough for the DISCONNECTs of a clean stop to leave.
            router.setLinger(1000);
            // A ROUTER drops, silently, what a peer's full queue cannot take; a deep queue keeps a burst
            // of PARTIALs to a client that reads a little late from being lost.
            router.setSndHWM(SEND_QUEUE_PER_PEER);
            // Tell us what a peer's full queue, or a peer gone, did not take, so it is counted and acted on.
            router.setRouterMandatory(true);
            // A peer that sends more is disconnected as its frame header arrives, before it is buffered.
            router.setMaxMsgSize(config.maxMessageBytes());
            inbox.attach(context, router);
            bindAll(router);
            ZMQ.Socket socket = router;
            RateLimitedWarning drops = new RateLimitedWarning(log,
                    "messages dropped because their peer did not read them fast enough or had gone");
            core = new BrokerCore(config, (to, dialect, command) -> {
                BrokerCore.Undelivered undelivered;
                try {
                    undelivered = MdpSockets.send(socket, to, dialect, command) ? null
                            : BrokerCore.Undelivered.PEER_QUEUE_FULL; // ROUTER_MANDATORY: no room for it
                } catch (ZMQException e) {
                    if (e.getErrorCode() != ZMQ.Error.EHOSTUNREACH.getCode()) {
                        throw e;
                    }
                    undelivered = BrokerCore.Undelivered.PEER_GONE;
                }
                if (undelivered != null) {
                    drops.record(ticker.nanoTime(), command.getClass().getSimpleName() + " for " + to + ": "
                            + undelivered.label());
                }
                return undelivered;
            }, policy, ticker.nanoTime());
            started.countDown();
            loop(core, router);
        } catch (RuntimeException e) {
            if (started.getCount() > 0) {
                startFailure.set(e);
                started.countDown();
            } else {
                log.error("broker loop failed; the broker stops", e);
            }
        } finally {
            closed = true;
            loopEnded = true;
            try {
                if (core != null) {
                    core.shutdown();
                }
                failUnhandled();
                inbox.close();
                if (router != null) {
                    router.close();
                }
                if (zap != null) {
                    zap.close();
                }
                if (ownsContext) {
                    context.close();
                }
            } finally {
                // Whatever cleaning up threw, those waiting for the stop (close, awaitStop) are told.
                stopped.countDown();
            }
            if (!boundEndpoints.isEmpty()) {
                log.info("broker stopped");
            }
        }
    }

    /** True once the loop has ended and closed its sockets. */
    public boolean hasStopped() {
        return stopped.getCount() == 0;
    }

    private void bindAll(ZMQ.Socket router) {
        List<String> bound = new ArrayList<>();
        for (String endpoint : config.bindEndpoints()) {
            try {
                router.bind(endpoint);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot bind " + endpoint + ": " + e.getMessage(), e);
            }
            String resolved = router.getLastEndpoint();
            bound.add(resolved != null ? resolved : endpoint);
        }
        boundEndpoints = List.copyOf(bound);
        log.info("broker bound to {} (heartbeat {} ms x {}, request expiry {} ms, max queued {} per service and {} "
                + "per client, max message {} bytes; security: {})", String.join(", ", boundEndpoints),
                config.heartbeatInterval().toMillis(), config.heartbeatLiveness(), config.requestExpiry().toMillis(),
                config.maxQueuedPerService(), config.maxQueuedPerClient(), config.maxMessageBytes(),
                config.security().describe());
    }

    private void loop(BrokerCore core, ZMQ.Socket router) {
        while (true) {
            if (drainInbox(core)) {
                return;
            }
            long now = ticker.nanoTime();
            core.onTick(now);
            if (readMessages(core, router, ZMQ.DONTWAIT) == READ_BATCH) {
                continue; // more may be waiting: look at the inbox and the clock first
            }
            if (!inbox.goingToSleep()) {
                continue;
            }
            long wait = core.nextTickAt(now) - now;
            router.setReceiveTimeOut((int) Math.min(Integer.MAX_VALUE,
                    wait <= 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(wait) + 1));
            readMessages(core, router, 0); // sleeps until a message, the doorbell or the next tick
            inbox.awake();
        }
    }

    /**
     * As {@link MdpSockets#receive(ZMQ.Socket, int)}, also taking the CURVE key the message's
     * connection authenticated with (its ZAP {@code User-Id}, which ZeroMQ attaches to every frame the
     * peer sent; the routing id the ROUTER adds carries none) into {@link #lastKey}.
     */
    private List<byte[]> receiveWithKey(ZMQ.Socket router, int flags) {
        lastKey = null;
        lastUnvouched = false;
        byte[] id = router.recv(flags);
        if (id == null) {
            return null;
        }
        List<byte[]> frames = new ArrayList<>(6);
        frames.add(id);
        if (router.hasReceiveMore()) {
            zmq.Msg first = router.recvMsg(0);
            zmq.io.Metadata metadata = first.getMetadata();
            // In-process peers (inproc: the gateway's demo workers) have no connection and no
            // metadata; every network connection has metadata, and through CURVE a User-Id.
            String userId = metadata != null ? metadata.get(zmq.io.Metadata.USER_ID) : null;
            lastKey = userId == null || userId.isEmpty() ? null : userId;
            lastUnvouched = metadata != null && lastKey == null;
            frames.add(first.data());
            while (router.hasReceiveMore()) {
                frames.add(router.recv(0));
            }
        }
        return frames;
    }

    private static Acl loadAcl(java.nio.file.Path file) {
        try {
            Acl acl = Acl.load(file);
            log.info("ACL {}: {} rules", file, acl.size());
            return acl;
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read the ACL " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads and handles up to a batch of messages; with {@code flags} 0, waits for the first one up to
     * the socket's receive timeout.
     *
     * @return how many messages were read
     */
    private int readMessages(BrokerCore core, ZMQ.Socket router, int flags) {
        int read = 0;
        while (read < READ_BATCH) {
            int frameFlags = read == 0 ? flags : ZMQ.DONTWAIT;
            List<byte[]> frames;
            String key = null;
            if (receivesKeys) {
                frames = receiveWithKey(router, frameFlags);
                key = lastKey;
                if (frames != null && lastUnvouched) {
                    // A CURVE connection no ZAP handler vouched for: fail closed.
                    read++;
                    unvouched.record(ticker.nanoTime(), "from " + RoutingId.wrapReceived(frames.get(0)));
                    continue;
                }
            } else {
                frames = MdpSockets.receive(router, frameFlags);
            }
            if (frames == null) {
                return read;
            }
            read++;
            if (frames.size() < 2 || frames.get(0).length == 0 || RouterInbox.isDoorbell(frames.get(0))) {
                continue; // a ROUTER always adds a non-empty routing id; an empty message has no command
            }
            RoutingId peer = RoutingId.wrapReceived(frames.get(0));
            core.onMessage(peer, key, frames.subList(1, frames.size()), ticker.nanoTime());
        }
        return read;
    }

    /** Handles what other threads posted; true when the broker is stopping. */
    private boolean drainInbox(BrokerCore core) {
        Object item;
        while ((item = inbox.next()) != null) {
            if (item instanceof Submit submit) {
                submit.request = core.submit(submit.service, submit.body, submit.submittedAt, submit.deadline,
                        submit.handler, ticker.nanoTime());
            } else if (item instanceof Cancel cancel) {
                if (cancel.submit.request != null) {
                    core.cancel(cancel.submit.request, ticker.nanoTime());
                }
            } else if (item instanceof StatsQuery query) {
                query.result.complete(core.stats(ticker.nanoTime()));
            } else if (item == Stop.INSTANCE) {
                return true;
            }
        }
        return false;
    }

    /** Answers whatever is still in the inbox once the loop has ended. */
    private void failUnhandled() {
        Object item;
        while ((item = inbox.next()) != null) {
            if (item instanceof Submit submit) {
                submit.handler.onFailure(new RequestFailure(RequestFailure.Reason.BROKER_STOPPED, "the broker stopped"));
            } else if (item instanceof StatsQuery query) {
                query.result.complete(List.of());
            }
        }
    }

    /** An in-process request on its way to the loop; the loop fills in {@link #request}. */
    private final class Submit implements RequestHandle {
        final String service;
        final Body body;
        final long submittedAt;
        final long deadline;
        final ReplyHandler handler;
        /** Set and read only on the loop thread. */
        BrokerCore.LocalRequest request;

        Submit(String service, Body body, long submittedAt, long deadline, ReplyHandler handler) {
            this.service = service;
            this.body = body;
            this.submittedAt = submittedAt;
            this.deadline = deadline;
            this.handler = handler;
        }

        @Override
        public void cancel() {
            if (isRunning()) {
                inbox.post(new Cancel(this));
            }
        }
    }

    private record Cancel(Submit submit) {}

    private record StatsQuery(CompletableFuture<List<ServiceStats>> result) {}

    private enum Stop { INSTANCE }
}
