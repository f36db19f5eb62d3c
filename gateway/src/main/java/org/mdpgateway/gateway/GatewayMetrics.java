package org.mdpgateway.gateway;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.mdpgateway.broker.ServiceStats;

/**
 * The gateway's own counters, updated from HTTP and writer threads without locks, and rendered in
 * the Prometheus text format together with the broker's per-service counters.
 */
final class GatewayMetrics {
    /** Request service names are chosen by callers: past this many, the rest share one series. */
    static final int MAX_SERVICE_SERIES = 1000;
    static final String OTHER_SERVICES = "_other";
    private static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    private final ConcurrentHashMap<String, Series> byService = new ConcurrentHashMap<>();
    private final AtomicLong inFlight = new AtomicLong();
    private final ConcurrentHashMap<ReplyFormat, AtomicLong> openStreams = new ConcurrentHashMap<>();

    private static final class Series {
        final ConcurrentHashMap<Integer, LongAdder> byStatus = new ConcurrentHashMap<>();
        final LongAdder partials = new LongAdder();
        final LongAdder timeouts = new LongAdder();
        final LongAdder clientsGone = new LongAdder();
        final LongAdder[] buckets = new LongAdder[BUCKETS.length];
        final LongAdder count = new LongAdder();
        final LongAdder sumMicros = new LongAdder();

        Series() {
            for (int i = 0; i < buckets.length; i++) {
                buckets[i] = new LongAdder();
            }
        }
    }

    private Series series(String service) {
        Series s = byService.get(service);
        if (s != null) {
            return s;
        }
        if (byService.size() >= MAX_SERVICE_SERIES) {
            return byService.computeIfAbsent(OTHER_SERVICES, k -> new Series());
        }
        return byService.computeIfAbsent(service, k -> new Series());
    }

    void started(ReplyFormat format) {
        inFlight.incrementAndGet();
        if (format.isStreaming()) {
            openStreams.computeIfAbsent(format, f -> new AtomicLong()).incrementAndGet();
        }
    }

    void ended(ReplyFormat format) {
        inFlight.decrementAndGet();
        if (format.isStreaming()) {
            openStreams.get(format).decrementAndGet();
        }
    }

    void partial(String service) {
        series(service).partials.increment();
    }

    void clientGone(String service) {
        series(service).clientsGone.increment();
    }

    void outcome(String service, int status, long elapsedNanos) {
        Series s = series(service);
        s.byStatus.computeIfAbsent(status, k -> new LongAdder()).increment();
        if (status == 504) {
            s.timeouts.increment();
        }
        double seconds = elapsedNanos / 1e9;
        for (int i = 0; i < BUCKETS.length; i++) {
            if (seconds <= BUCKETS[i]) {
                s.buckets[i].increment();
            }
        }
        s.count.increment();
        s.sumMicros.add(elapsedNanos / 1000);
    }

    /** The Prometheus text exposition of these counters and the broker's. */
    String render(List<ServiceStats> broker) {
        StringBuilder out = new StringBuilder(4096);
        Map<String, Series> sorted = new TreeMap<>(byService);
        header(out, "mdpgw_requests_total", "counter", "HTTP requests to services, by reply status");
        sorted.forEach((service, s) -> new TreeMap<>(s.byStatus).forEach((status, n) -> out.append("mdpgw_requests_total{service=\"")
                .append(escape(service)).append("\",code=\"").append(status).append("\"} ").append(n.sum()).append('\n')));
        header(out, "mdpgw_request_duration_seconds", "histogram", "time from request to last byte");
        sorted.forEach((service, s) -> {
            String label = "service=\"" + escape(service) + "\"";
            for (int i = 0; i < BUCKETS.length; i++) {
                out.append("mdpgw_request_duration_seconds_bucket{").append(label).append(",le=\"").append(BUCKETS[i])
                        .append("\"} ").append(s.buckets[i].sum()).append('\n');
            }
            out.append("mdpgw_request_duration_seconds_bucket{").append(label).append(",le=\"+Inf\"} ")
                    .append(s.count.sum()).append('\n');
            out.append("mdpgw_request_duration_seconds_sum{").append(label).append("} ")
                    .append(s.sumMicros.sum() / 1e6).append('\n');
            out.append("mdpgw_request_duration_seconds_count{").append(label).append("} ").append(s.count.sum())
                    .append('\n');
        });
        counter(out, sorted, "mdpgw_partials_total", "PARTIAL replies relayed", s -> s.partials.sum());
        counter(out, sorted, "mdpgw_timeouts_total", "requests a worker took but did not finish in time (504)",
                s -> s.timeouts.sum());
        counter(out, sorted, "mdpgw_clients_gone_total", "HTTP clients that left before their reply ended",
                s -> s.clientsGone.sum());
        header(out, "mdpgw_inflight", "gauge", "HTTP requests waiting for or streaming a reply");
        out.append("mdpgw_inflight ").append(inFlight.get()).append('\n');
        header(out, "mdpgw_streams_open", "gauge", "open streaming replies, by format");
        for (ReplyFormat f : ReplyFormat.values()) {
            if (f.isStreaming()) {
                AtomicLong n = openStreams.get(f);
                out.append("mdpgw_streams_open{format=\"").append(f.name().toLowerCase(java.util.Locale.ROOT))
                        .append("\"} ").append(n == null ? 0 : n.get()).append('\n');
            }
        }
        header(out, "mdpgw_workers", "gauge", "registered workers, by service and state");
        for (ServiceStats s : broker) {
            out.append("mdpgw_workers{service=\"").append(escape(s.service())).append("\",state=\"idle\"} ")
                    .append(s.idleWorkers()).append('\n');
            out.append("mdpgw_workers{service=\"").append(escape(s.service())).append("\",state=\"busy\"} ")
                    .append(s.busyWorkers()).append('\n');
        }
        header(out, "mdpgw_broker_workers", "gauge", "registered workers, by service, Majordomo dialect and state");
        for (ServiceStats s : broker) {
            s.workersByDialect().forEach((dialect, counts) -> {
                String labels = "service=\"" + escape(s.service()) + "\",dialect=\"" + dialect.label() + "\",state=\"";
                out.append("mdpgw_broker_workers{").append(labels).append("idle\"} ").append(counts.idle()).append('\n');
                out.append("mdpgw_broker_workers{").append(labels).append("busy\"} ").append(counts.busy()).append('\n');
            });
        }
        header(out, "mdpgw_broker_requests_total", "counter",
                "requests the broker received, by service and by the dialect of their client (in-process: this gateway)");
        for (ServiceStats s : broker) {
            s.requestsByClient().forEach((client, n) -> out.append("mdpgw_broker_requests_total{service=\"")
                    .append(escape(s.service())).append("\",client=\"").append(client).append("\"} ").append(n)
                    .append('\n'));
        }
        brokerGauge(out, broker, "mdpgw_queue_depth", "gauge", "requests waiting for a worker", ServiceStats::queued);
        brokerGauge(out, broker, "mdpgw_broker_inflight", "gauge", "requests held by workers", ServiceStats::inFlight);
        brokerGauge(out, broker, "mdpgw_broker_served_total", "counter", "requests answered with a FINAL",
                ServiceStats::served);
        brokerGauge(out, broker, "mdpgw_broker_failed_total", "counter", "requests that ended without a FINAL",
                ServiceStats::failed);
        brokerGauge(out, broker, "mdpgw_broker_resent_total", "counter", "requests resent after a worker died",
                ServiceStats::resent);
        brokerGauge(out, broker, "mdpgw_broker_expired_total", "counter", "requests no worker took in time",
                ServiceStats::expired);
        brokerGauge(out, broker, "mdpgw_broker_refused_total", "counter", "requests refused, queue full",
                ServiceStats::refused);
        header(out, "mdpgw_broker_dropped_total", "counter",
                "commands the broker's socket did not take, by service and reason (peer-queue-full, peer-gone)");
        for (ServiceStats s : broker) {
            s.droppedByReason().forEach((reason, n) -> out.append("mdpgw_broker_dropped_total{service=\"")
                    .append(escape(s.service())).append("\",reason=\"").append(reason).append("\"} ").append(n)
                    .append('\n'));
        }
        return out.toString();
    }

    private static void header(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void counter(StringBuilder out, Map<String, Series> sorted, String name, String help,
            java.util.function.ToLongFunction<Series> value) {
        header(out, name, "counter", help);
        sorted.forEach((service, s) -> out.append(name).append("{service=\"").append(escape(service)).append("\"} ")
                .append(value.applyAsLong(s)).append('\n'));
    }

    private static void brokerGauge(StringBuilder out, List<ServiceStats> broker, String name, String type, String help,
            java.util.function.ToLongFunction<ServiceStats> value) {
        header(out, name, type, help);
        for (ServiceStats s : broker) {
            out.append(name).append("{service=\"").append(escape(s.service())).append("\"} ")
                    .append(value.applyAsLong(s)).append('\n');
        }
    }

    /** Prometheus label values escape backslash, double quote and newline. */
    static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
