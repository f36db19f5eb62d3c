package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.mdpgateway.broker.RequestBroker;
import org.mdpgateway.broker.ServiceStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's dashboard: the page at {@code /dashboard} and its live feed, the Server-Sent Events
 * stream at {@code /dashboard/events}, on which every open page gets a snapshot of every service
 * about once a period (a second unless {@link GatewayConfig#dashboardPeriod()} says otherwise).
 *
 * <p>While no page is open nothing runs: no broker snapshot is asked for and no history is kept.
 * While one is, one broker snapshot a period serves every page, whatever their number. Rates and the
 * p99 latency are computed here, on the dashboard thread, from consecutive broker snapshots: the
 * requests per second from the broker's request counts, the p99 from the broker's per-service
 * latency buckets ({@link ServiceStats#latencyCounts()}, arrival at the broker to FINAL), the
 * difference between now and about a minute ago. So the request path pays nothing for the
 * dashboard but the broker's bucket increment it pays anyway.
 *
 * <p>A page that opens between two periods is sent the last snapshot at once (in its scope); only
 * the first page, finding none, makes the dashboard ask for one early.
 *
 * <p>Threads: the history ({@link #history}, {@link #latencyWindow}, {@link #seq}, the last
 * snapshot) belongs to the single {@code mdp-gateway-dashboard} thread. Subscribers are added and removed from HTTP and
 * writer threads (a concurrent set); each subscriber's bytes are written on a writer thread by its
 * {@link ResponseWriter}, which never blocks: a page that has not taken the last snapshot yet skips
 * the next, so a slow page never holds up the others, nor a writer thread, nor grows a queue.
 */
final class Dashboard implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);
    static final String EVENTS_ROUTE = "/dashboard/events";
    static final String PAGE_ROUTE = "/dashboard";
    /** How many periods of history the charts show: a minute. */
    static final int HISTORY = 60;
    private static final String PAGE_RESOURCE = "org/mdpgateway/gateway/dashboard.html";

    private final RequestBroker broker;
    private final ObjectMapper mapper;
    private final ExecutorService writers;
    private final HttpAuth auth;
    private final long heartbeatMillis;
    private final long periodMillis;
    private final byte[] page;
    private final ScheduledExecutorService thread =
            Executors.newSingleThreadScheduledExecutor(runnable -> {
                Thread t = new Thread(runnable, "mdp-gateway-dashboard");
                t.setDaemon(true);
                return t;
            });
    private final Set<Subscriber> subscribers = ConcurrentHashMap.newKeySet();
    /** Per service: the last {@link #HISTORY} periods. Dashboard thread only. */
    private final Map<String, History> history = new HashMap<>();
    /** Broker snapshots of the last minute, oldest first, for rates and latency windows. Dashboard thread only. */
    private final ArrayDeque<Sample> latencyWindow = new ArrayDeque<>();
    private long seq;
    /** The last snapshot published, for a page that opens between two: its head, stats and nodes. Dashboard thread only. */
    private String lastHead;
    private List<ServiceStats> lastStats;
    private Map<String, byte[]> lastNodes;
    /** True while the first snapshot, asked for by a page that found none, is on its way. Dashboard thread only. */
    private boolean firstAsked;
    private volatile boolean closed;

    Dashboard(RequestBroker broker, ObjectMapper mapper, ExecutorService writers, HttpAuth auth, Duration heartbeat,
            Duration period) {
        this.broker = broker;
        this.mapper = mapper;
        this.writers = writers;
        this.auth = auth;
        this.heartbeatMillis = heartbeat.toMillis();
        this.periodMillis = Math.max(1, period.toMillis());
        this.page = loadPage();
    }

    void register(JavalinConfig javalin) {
        javalin.routes.get(PAGE_ROUTE, ctx -> ctx.contentType("text/html; charset=utf-8")
                .header("Cache-Control", "no-cache").result(page));
        javalin.routes.get(EVENTS_ROUTE, this::subscribe);
        thread.scheduleAtFixedRate(this::tick, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    /** Ends every open stream (so that the server may stop) and the dashboard thread. */
    @Override
    public void close() {
        closed = true;
        thread.shutdownNow();
        subscribers.forEach(Subscriber::end);
    }

    int openStreams() {
        return subscribers.size();
    }

    // ---- subscribers ---------------------------------------------------------------------------

    private void subscribe(Context ctx) {
        if (closed) {
            throw new HttpApi.ProblemException(ProblemType.SHUTTING_DOWN.problem(
                    "the gateway is stopping", HttpApi.requestId(ctx), null));
        }
        Subscriber subscriber = new Subscriber(ctx, auth.scope(ctx));
        ctx.status(200);
        ctx.contentType(CONTENT_TYPE);
        ctx.disableCompression();
        ctx.future(() -> {
            subscriber.writer.start();
            // The page learns at once that the stream is open, and an EventSource how soon to come
            // back: queued before the page can be sent a snapshot.
            subscriber.write(OPENING);
            subscribers.add(subscriber);
            if (closed) {
                subscriber.end(); // close() may have ended the others before this one was added
                return subscriber.writer.done;
            }
            try {
                thread.execute(() -> welcome(subscriber)); // a new page need not wait for the next period
            } catch (java.util.concurrent.RejectedExecutionException e) {
                subscriber.end(); // the dashboard closed meanwhile
            }
            return subscriber.writer.done;
        });
    }

    private static final String CONTENT_TYPE = "text/event-stream; charset=utf-8";
    private static final byte[] OPENING = "retry: 2000\n: open\n\n".getBytes(StandardCharsets.UTF_8);

    /**
     * One open events stream, written without blocking by its {@link ResponseWriter}: a page that has
     * not taken what it was sent skips the next snapshot, so a slow or stalled page holds no thread
     * and grows no queue.
     */
    private final class Subscriber implements ResponseWriter.Events {
        final ServiceScope scope;
        final ResponseWriter writer;
        /** True once a snapshot was handed to it. Dashboard thread only. */
        boolean snapshotSent;

        Subscriber(Context ctx, ServiceScope scope) {
            this.scope = scope;
            this.writer = new ResponseWriter(ctx.req(), ctx.res(), writers, Integer.MAX_VALUE, Long.MAX_VALUE, this);
            writer.done.whenComplete((ok, e) -> subscribers.remove(this));
        }

        /** Queues {@code bytes} for the page; skipped on the writer thread if the page is behind. */
        void write(byte[] bytes) {
            if (!writer.done.isDone()) {
                writer.offer(new StreamEvent.Bytes(bytes));
            }
        }

        /**
         * Ends the stream once what the page was sent is taken; a page still taking the last is cut
         * off instead, so that a page that stopped reading does not hold up the gateway's stop.
         */
        void end() {
            subscribers.remove(this);
            writer.offer(StreamEvent.SHUTDOWN);
        }

        @Override
        public void handle(StreamEvent event) {
            if (!writer.committed()) {
                writer.commit(CONTENT_TYPE, true);
            }
            if (event == StreamEvent.SHUTDOWN) {
                if (writer.isBehind()) {
                    writer.abort(new java.io.IOException("the gateway is stopping and the page is not reading"));
                } else {
                    writer.end();
                }
            } else if (event instanceof StreamEvent.Bytes bytes && !writer.isBehind()) {
                writer.write(bytes.bytes());
            }
        }

        @Override
        public void clientGone(Throwable cause) {
            log.debug("dashboard stream ended: {}", cause.toString());
        }
    }

    // ---- the dashboard thread ------------------------------------------------------------------

    /**
     * Gives a new page the last snapshot, in its scope, rather than asking the broker for one: a
     * sample between two periods would skew the rates and shorten the latency window, and reconnecting
     * pages could make the broker walk its workers as often as they like. Only with no snapshot yet is
     * one asked for.
     */
    private void welcome(Subscriber subscriber) {
        if (subscriber.snapshotSent) {
            return; // a period's snapshot reached it first
        }
        if (lastStats != null) {
            subscriber.snapshotSent = true;
            subscriber.write(event(lastHead, lastStats, lastNodes, subscriber.scope));
        } else if (!firstAsked) {
            firstAsked = true;
            tick();
        }
    }

    private void tick() {
        if (subscribers.isEmpty()) {
            if (!history.isEmpty() || lastStats != null) {
                history.clear(); // nobody looks: a page opened later starts a fresh minute
                latencyWindow.clear();
                lastHead = null;
                lastStats = null;
                lastNodes = null;
                firstAsked = false;
            }
            return;
        }
        long askedAt = System.nanoTime();
        broker.stats().thenAcceptAsync(stats -> publish(stats, askedAt), thread).exceptionally(e -> {
            log.warn("dashboard snapshot failed", e);
            return null;
        });
    }

    private void publish(List<ServiceStats> stats, long at) {
        Sample previous = latencyWindow.peekLast();
        Sample current = new Sample(at, stats);
        latencyWindow.addLast(current);
        while (latencyWindow.size() > HISTORY + 1) {
            latencyWindow.removeFirst();
        }
        Sample minuteAgo = latencyWindow.peekFirst();
        seq++;
        Map<String, byte[]> nodes = new HashMap<>();
        for (ServiceStats s : stats) {
            ObjectNode node = serviceNode(s, previous, minuteAgo, current);
            try {
                nodes.put(s.service(), mapper.writeValueAsBytes(node));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        history.keySet().retainAll(nodes.keySet());
        String head = "event: snapshot\nid: " + seq + "\ndata: {\"seq\":" + seq + ",\"time\":\""
                + Instant.now() + "\",\"heartbeatMs\":" + heartbeatMillis + ",\"services\":[";
        lastHead = head;
        lastStats = stats;
        lastNodes = nodes;
        firstAsked = false;
        byte[] all = null;
        for (Subscriber subscriber : subscribers) {
            subscriber.snapshotSent = true;
            boolean everything = subscriber.scope == ServiceScope.EVERYTHING;
            if (everything && all != null) {
                subscriber.write(all);
                continue;
            }
            byte[] event = event(head, stats, nodes, subscriber.scope);
            if (everything) {
                all = event;
            }
            subscriber.write(event);
        }
    }

    /** One SSE event: the services {@code scope} covers, in the broker's order (by name). */
    private static byte[] event(String head, List<ServiceStats> stats, Map<String, byte[]> nodes, ServiceScope scope) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(256 + 512 * nodes.size());
        out.writeBytes(head.getBytes(StandardCharsets.UTF_8));
        boolean first = true;
        for (ServiceStats s : stats) {
            if (!scope.covers(s.service())) {
                continue;
            }
            if (!first) {
                out.write(',');
            }
            first = false;
            out.writeBytes(nodes.get(s.service())); // one line: Jackson's compact output has no newline
        }
        out.writeBytes("]}\n\n".getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    private ObjectNode serviceNode(ServiceStats s, Sample previous, Sample minuteAgo, Sample current) {
        ObjectNode node = mapper.createObjectNode();
        HttpApi.putServiceCounters(node, s);
        Double rate = previous == null ? null : requestsPerSecond(previous, current, s);
        Double p99 = p99Millis(minuteAgo.byService.get(s.service()), s);
        putNumber(node, "requestsPerSecond", rate);
        putNumber(node, "p99Ms", p99);
        History h = history.computeIfAbsent(s.service(), k -> new History());
        h.add(rate, p99, s.queued(), s.inFlight());
        h.write(node.putObject("history"));
        ArrayNode failures = node.putArray("recentFailures");
        for (ServiceStats.RecentFailure f : s.recentFailures()) {
            failures.addObject().put("reason", f.reason().name().toLowerCase(Locale.ROOT).replace('_', '-'))
                    .put("detail", f.detail()).put("agoMs", f.agoMillis());
        }
        ArrayNode list = node.putArray("workerList");
        for (ServiceStats.WorkerStats w : s.workerList()) {
            ObjectNode worker = list.addObject().put("routingId", w.routingId()).put("dialect", w.dialect().label())
                    .put("connectedMs", w.connectedMillis()).put("served", w.served())
                    .put("silentMs", w.silentMillis()).put("expiresInMs", w.expiresInMillis())
                    .put("silent", w.silent());
            if (w.holdingMillis() >= 0) {
                worker.put("holdingMs", w.holdingMillis());
            } else {
                worker.putNull("holdingMs");
            }
        }
        return node;
    }

    private static void putNumber(ObjectNode node, String field, Double value) {
        if (value == null) {
            node.putNull(field);
        } else {
            node.put(field, Math.round(value * 100) / 100.0);
        }
    }

    /** Requests the broker received for the service per second between two snapshots. */
    static Double requestsPerSecond(Sample previous, Sample current, ServiceStats now) {
        ServiceStats before = previous.byService.get(now.service());
        double seconds = (current.at - previous.at) / 1e9;
        if (seconds <= 0) {
            return null;
        }
        long received = received(now) - (before == null ? 0 : received(before));
        return Math.max(0, received) / seconds;
    }

    private static long received(ServiceStats s) {
        long n = 0;
        for (long count : s.requestsByClient().values()) {
            n += count;
        }
        return n;
    }

    /**
     * The 99th percentile of the latencies of the requests served since {@code before}, in ms,
     * interpolated within the broker's bucket; null when none was served. Past the last bound the
     * last bound is given: a lower estimate, said so by the bounds in the document.
     */
    static Double p99Millis(ServiceStats before, ServiceStats now) {
        List<Long> counts = now.latencyCounts();
        if (counts.isEmpty()) {
            return null;
        }
        List<Long> old = before == null || before.latencyCounts().isEmpty() ? null : before.latencyCounts();
        long[] delta = new long[counts.size()];
        long total = 0;
        for (int i = 0; i < delta.length; i++) {
            delta[i] = Math.max(0, counts.get(i) - (old == null ? 0 : old.get(i)));
            total += delta[i];
        }
        if (total == 0) {
            return null;
        }
        double rank = 0.99 * total;
        long seen = 0;
        List<Long> bounds = ServiceStats.LATENCY_BOUNDS_MICROS;
        for (int i = 0; i < delta.length; i++) {
            if (delta[i] > 0 && seen + delta[i] >= rank) {
                if (i == bounds.size()) {
                    return bounds.get(i - 1) / 1000.0;
                }
                double low = i == 0 ? 0 : bounds.get(i - 1);
                double high = bounds.get(i);
                double within = (rank - seen) / delta[i];
                return (low + (high - low) * within) / 1000.0;
            }
            seen += delta[i];
        }
        return bounds.get(bounds.size() - 1) / 1000.0;
    }

    /** One broker snapshot, by service, and when it was asked for ({@link System#nanoTime()}). */
    static final class Sample {
        final long at;
        final Map<String, ServiceStats> byService = new HashMap<>();

        Sample(long at, List<ServiceStats> stats) {
            this.at = at;
            stats.forEach(s -> byService.put(s.service(), s));
        }
    }

    /** A service's last {@link #HISTORY} periods, oldest first; a ring. */
    private static final class History {
        final Double[] rate = new Double[HISTORY];
        final Double[] p99 = new Double[HISTORY];
        final int[] queued = new int[HISTORY];
        final int[] inFlight = new int[HISTORY];
        int size;
        int next;

        void add(Double r, Double p, int q, int f) {
            rate[next] = r;
            p99[next] = p;
            queued[next] = q;
            inFlight[next] = f;
            next = (next + 1) % HISTORY;
            size = Math.min(size + 1, HISTORY);
        }

        void write(ObjectNode node) {
            ArrayNode r = node.putArray("requestsPerSecond");
            ArrayNode p = node.putArray("p99Ms");
            ArrayNode q = node.putArray("queued");
            ArrayNode f = node.putArray("inFlight");
            for (int i = 0; i < size; i++) {
                int slot = (next - size + i + HISTORY) % HISTORY;
                addNumber(r, rate[slot]);
                addNumber(p, p99[slot]);
                q.add(queued[slot]);
                f.add(inFlight[slot]);
            }
        }

        private static void addNumber(ArrayNode array, Double value) {
            if (value == null) {
                array.addNull();
            } else {
                array.add(Math.round(value * 100) / 100.0);
            }
        }
    }

    private static byte[] loadPage() {
        try (InputStream in = Dashboard.class.getClassLoader().getResourceAsStream(PAGE_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(PAGE_RESOURCE + " is missing from the class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PAGE_RESOURCE, e);
        }
    }
}
