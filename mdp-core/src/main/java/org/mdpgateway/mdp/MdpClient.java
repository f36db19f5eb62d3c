package org.mdpgateway.mdp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * An MDP/Client for one broker endpoint (18/MDP). Thread safe: any number of threads may call it at
 * once.
 *
 * <p>MDP/Client allows one outstanding request per socket, so the client keeps a DEALER socket per
 * request in flight, taken from a pool of idle ones, all owned by one I/O thread. When no reply
 * arrives within the timeout, it follows the strategy 18/MDP recommends: it closes that socket, opens
 * a new one and resends, and fails the request after the configured number of attempts. A request
 * whose PARTIALs have started to arrive is never resent, since that would repeat output.
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
    private final Duration defaultTimeout;
    private final int maxAttempts;
    private final int maxInFlight;
    private final int maxIdleSockets;
    private final Ticker ticker;
    private final Duration handshakeTimeout;

    private final ZContext context;
    private final boolean ownsContext;
    private final LoopInbox<Object> inbox = new LoopInbox<>();
    private final Thread ioThread;
    private volatile boolean closed;
    private volatile boolean loopEnded;

    // Owned by the I/O thread.
    private final ArrayDeque<ZMQ.Socket> idleSockets = new ArrayDeque<>();
    private final List<Call> active = new ArrayList<>();
    private final ArrayDeque<Call> waiting = new ArrayDeque<>();
    /** The doorbell, then each active call's socket; the first {@link #polledCount} are in use. */
    private zmq.poll.PollItem[] pollItems = new zmq.poll.PollItem[16];
    private Call[] polledCalls = new Call[16];
    private int polledCount;
    private boolean pollSetChanged = true;

    private MdpClient(Builder b) {
        this.endpoint = b.endpoint;
        this.defaultTimeout = b.timeout;
        this.maxAttempts = b.attempts;
        this.maxInFlight = b.maxInFlight;
        this.maxIdleSockets = b.maxIdleSockets;
        this.ticker = b.ticker;
        this.handshakeTimeout = b.handshakeTimeout;
        this.ownsContext = b.context == null;
        this.context = ownsContext ? new ZContext(1) : b.context;
        this.ioThread = new Thread(this::runLoop, "mdp-client-" + endpoint);
        this.ioThread.setDaemon(true);
        this.ioThread.start();
        log.debug("MDP client for {} started", endpoint);
    }

    /** A client for {@code endpoint} with the default settings. */
    public static MdpClient connect(String endpoint) {
        return builder(endpoint).build();
    }

    public static Builder builder(String endpoint) {
        return new Builder(endpoint);
    }

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
        return await(submit(service, body, timeout, null));
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
        Call call = new Call(new ClientCommand.Request(service, body), positive(timeout, "timeout").toNanos(), listener);
        if (closed) {
            call.future.completeExceptionally(new ClientClosedException("client for " + endpoint + " is closed"));
            return call.future;
        }
        call.future.whenComplete((r, e) -> {
            if (call.future.isCancelled()) {
                inbox.post(new Cancel(call));
            }
        });
        inbox.post(call);
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
        inbox.post(Stop.INSTANCE);
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
        inbox.wake();
    }

    // ---- I/O thread ----------------------------------------------------------------------------

    private void runLoop() {
        Selector selector = null;
        try {
            selector = Selector.open();
            boolean stopping = false;
            while (!stopping) {
                stopping = drainInbox();
                if (stopping) {
                    break;
                }
                long now = ticker.nanoTime();
                expireDeadlines(now);
                startWaiting(now);
                if (pollSetChanged) {
                    rebuildPollSet();
                }
                zmq.ZMQ.poll(selector, pollItems, polledCount, pollTimeoutMillis(now));
                if (pollItems[0].isReadable()) {
                    inbox.silence();
                }
                for (int i = 1; i < polledCount; i++) {
                    if (pollItems[i].isReadable()) {
                        readReplies(polledCalls[i]);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("MDP client I/O thread cannot open a selector", e);
        } catch (RuntimeException | Error e) {
            log.error("MDP client I/O thread for {} failed", endpoint, e);
            throw e;
        } finally {
            closed = true;
            loopEnded = true;
            ClientClosedException reason = new ClientClosedException("client for " + endpoint + " is closed");
            for (Call call : active) {
                call.future.completeExceptionally(reason);
                discard(call.socket);
            }
            idleSockets.forEach(MdpClient::discard);
            for (Call call : waiting) {
                call.future.completeExceptionally(reason);
            }
            failQueued();
            closeQuietly(selector);
            if (ownsContext) {
                context.close();
            }
            inbox.close();
            log.debug("MDP client for {} closed", endpoint);
        }
    }

    /** Handles what other threads posted; true when the client is stopping. */
    private boolean drainInbox() {
        Object item;
        while ((item = inbox.next()) != null) {
            if (item instanceof Call call) {
                if (!call.future.isDone()) {
                    waiting.add(call);
                }
            } else if (item instanceof Cancel cancel) {
                abandon(cancel.call);
            } else if (item == Stop.INSTANCE) {
                return true;
            }
        }
        return false;
    }

    private void failQueued() {
        Object item;
        ClientClosedException reason = null;
        while ((item = inbox.next()) != null) {
            if (item instanceof Call call) {
                if (reason == null) {
                    reason = new ClientClosedException("client for " + endpoint + " is closed");
                }
                call.future.completeExceptionally(reason);
            }
        }
    }

    private void startWaiting(long now) {
        while (active.size() < maxInFlight && !waiting.isEmpty()) {
            Call call = waiting.poll();
            if (call.future.isDone()) {
                continue;
            }
            useSocket(call, takeSocket());
            addActive(call);
            send(call, now);
        }
    }

    private void send(Call call, long now) {
        call.attempts++;
        call.deadline = now + call.timeoutNanos;
        if (!MdpSockets.send(call.socket, call.request)) {
            // The socket's queue is full: the deadline passes and the retry opens a new socket.
            log.debug("request to '{}' could not be queued on attempt {}", call.request.service(), call.attempts);
        } else if (log.isDebugEnabled()) {
            log.debug("sent request to '{}', attempt {}", call.request.service(), call.attempts);
        }
    }

    private void expireDeadlines(long now) {
        for (int i = active.size() - 1; i >= 0; i--) {
            Call call = active.get(i);
            if (now - call.deadline < 0) {
                continue;
            }
            // 18/MDP: close the socket, open a new one and resend; give up after several tries.
            discard(call.socket);
            if (call.partialsReceived == 0 && call.attempts < maxAttempts) {
                useSocket(call, newSocket());
                pollSetChanged = true;
                log.debug("no reply from '{}' in time, resending on a new socket", call.request.service());
                send(call, now);
            } else {
                useSocket(call, null);
                removeActive(call);
                call.future.completeExceptionally(new RequestTimeoutException(call.request.service(),
                        Duration.ofNanos(call.timeoutNanos), call.attempts, call.partialsReceived));
            }
        }
    }

    private void readReplies(Call call) {
        if (call.socket == null) {
            return;
        }
        List<byte[]> frames;
        while (call.socket != null && (frames = MdpSockets.receive(call.socket)) != null) {
            MdpCommand command;
            try {
                command = MdpCodec.decode(frames);
            } catch (MalformedMessageException e) {
                log.debug("dropped a malformed reply for '{}': {}", call.request.service(), e.getMessage());
                continue;
            }
            if (!(command instanceof ClientCommand reply)
                    || reply.type() == MdpProtocol.ClientCommandType.REQUEST
                    || !reply.service().equals(call.request.service())) {
                log.debug("dropped an unexpected reply for '{}': {}", call.request.service(), command);
                continue;
            }
            if (reply instanceof ClientCommand.Partial) {
                call.partialsReceived++;
                if (call.listener != null) {
                    deliverPartial(call, reply.body());
                } else {
                    call.partials.add(reply.body());
                }
            } else {
                finish(call, reply.body());
            }
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
        ZMQ.Socket socket = call.socket;
        useSocket(call, null);
        removeActive(call);
        releaseSocket(socket);
        call.future.complete(new Reply(call.request.service(), call.partials, finalBody));
    }

    /** Drops a call that was cancelled or failed; its socket may still receive a reply, so close it. */
    private void abandon(Call call) {
        if (call.activeIndex >= 0) {
            discard(call.socket);
            useSocket(call, null);
            removeActive(call);
        } else {
            waiting.remove(call);
        }
    }

    private static void useSocket(Call call, ZMQ.Socket socket) {
        call.socket = socket;
        call.pollItem = socket == null ? null : new zmq.poll.PollItem(socket.base(), zmq.ZMQ.ZMQ_POLLIN);
    }

    private void addActive(Call call) {
        call.activeIndex = active.size();
        active.add(call);
        pollSetChanged = true;
    }

    /** Removes in constant time by moving the last active call into the gap. */
    private void removeActive(Call call) {
        int index = call.activeIndex;
        Call last = active.remove(active.size() - 1);
        if (last != call) {
            active.set(index, last);
            last.activeIndex = index;
        }
        call.activeIndex = -1;
        pollSetChanged = true;
    }

    private long pollTimeoutMillis(long now) {
        if (!waiting.isEmpty() && active.size() < maxInFlight) {
            return 0;
        }
        long earliest = Long.MAX_VALUE;
        for (Call call : active) {
            earliest = Math.min(earliest, call.deadline - now);
        }
        if (earliest == Long.MAX_VALUE) {
            return -1;
        }
        return earliest <= 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(earliest) + 1;
    }

    private void rebuildPollSet() {
        int n = active.size() + 1;
        if (pollItems.length < n) {
            pollItems = java.util.Arrays.copyOf(pollItems, Math.max(n, pollItems.length * 2));
            polledCalls = java.util.Arrays.copyOf(polledCalls, pollItems.length);
        }
        if (pollItems[0] == null) {
            pollItems[0] = new zmq.poll.PollItem(inbox.doorbell(), zmq.ZMQ.ZMQ_POLLIN);
        }
        for (int i = 1; i < n; i++) {
            Call call = active.get(i - 1);
            pollItems[i] = call.pollItem;
            polledCalls[i] = call;
        }
        for (int i = n; i < polledCount; i++) {
            pollItems[i] = null; // let finished calls go
            polledCalls[i] = null;
        }
        polledCount = n;
        pollSetChanged = false;
    }

    private ZMQ.Socket takeSocket() {
        ZMQ.Socket socket = idleSockets.poll();
        if (socket == null) {
            return newSocket();
        }
        // A well-behaved broker sends nothing after a FINAL; drop anything a faulty one did.
        while (MdpSockets.receive(socket) != null) {
            log.debug("dropped a reply that arrived after a FINAL");
        }
        return socket;
    }

    private ZMQ.Socket newSocket() {
        return MdpSockets.connectDealer(context, endpoint, handshakeTimeout);
    }

    private void releaseSocket(ZMQ.Socket socket) {
        if (idleSockets.size() < maxIdleSockets) {
            idleSockets.push(socket);
        } else {
            discard(socket);
        }
    }

    private static void discard(ZMQ.Socket socket) {
        if (socket != null) {
            socket.close();
        }
    }

    private static void closeQuietly(Selector selector) {
        if (selector != null) {
            try {
                selector.close();
            } catch (IOException e) {
                log.debug("closing the selector failed", e);
            }
        }
    }

    private static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
        return d;
    }

    /** One request from submission to its FINAL or failure. Fields belong to the I/O thread. */
    private static final class Call {
        final ClientCommand.Request request;
        final long timeoutNanos;
        final PartialListener listener;
        final List<Body> partials = new ArrayList<>();
        final CompletableFuture<Reply> future = new CompletableFuture<>();
        ZMQ.Socket socket;
        zmq.poll.PollItem pollItem;
        /** Where the call is in {@code active}, or -1. */
        int activeIndex = -1;
        int attempts;
        int partialsReceived;
        long deadline;

        Call(ClientCommand.Request request, long timeoutNanos, PartialListener listener) {
            this.request = request;
            this.timeoutNanos = timeoutNanos;
            this.listener = listener;
        }
    }

    private record Cancel(Call call) {}

    private enum Stop { INSTANCE }

    /** Settings for an {@link MdpClient}. */
    public static final class Builder {
        private final String endpoint;
        private Duration timeout = Duration.ofMillis(2500);
        private int attempts = 3;
        private int maxInFlight = 1024;
        private int maxIdleSockets = 16;
        private Ticker ticker = Ticker.system();
        private Duration handshakeTimeout = MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT;
        private ZContext context;

        private Builder(String endpoint) {
            this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        }

        /** How long one attempt waits for the FINAL before the request is resent. Default 2500 ms. */
        public Builder timeout(Duration timeout) {
            this.timeout = positive(timeout, "timeout");
            return this;
        }

        /** How many times a request is sent before it fails with a timeout. Default 3. */
        public Builder attempts(int attempts) {
            if (attempts < 1) {
                throw new IllegalArgumentException("attempts must be at least 1, got " + attempts);
            }
            this.attempts = attempts;
            return this;
        }

        /**
         * How many requests may be outstanding at once, each on its own socket; more wait in
         * submission order. Default 1024.
         */
        public Builder maxInFlight(int maxInFlight) {
            if (maxInFlight < 1) {
                throw new IllegalArgumentException("maxInFlight must be at least 1, got " + maxInFlight);
            }
            this.maxInFlight = maxInFlight;
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
         * How long a new connection may take to finish its ZMTP handshake before it is retried.
         * Default 1 s; see {@link MdpSockets#DEFAULT_HANDSHAKE_TIMEOUT} for why it is short.
         */
        public Builder handshakeTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("handshake timeout must be positive, got " + timeout);
            }
            this.handshakeTimeout = timeout;
            return this;
        }

        /**
         * A ZeroMQ context to create sockets in, shared with the caller, who closes it; needed to
         * reach an {@code inproc://} endpoint bound in that context. Default: a context of its own.
         */
        public Builder context(ZContext context) {
            this.context = Objects.requireNonNull(context, "context");
            return this;
        }

        /** The clock for deadlines. Default: the system's monotonic clock. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        public MdpClient build() {
            return new MdpClient(this);
        }
    }
}
