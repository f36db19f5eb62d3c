package org.mdpgateway.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jetty.JettyConnectionMetrics;
import io.micrometer.core.instrument.binder.jetty.JettyServerThreadPoolMetrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.mdpgateway.broker.ServiceStats;

/**
 * The gateway's metrics in a Micrometer registry, scraped in the Prometheus text format: its own
 * counters (updated from HTTP and writer threads, without locks once a service's meters exist), the
 * broker's per-service figures (taken from the broker's stats snapshot at each scrape), and the JVM,
 * GC, thread, process and Jetty metrics Micrometer's binders provide.
 *
 * <p>The per-request path never looks a meter up by name and tags: each service's meters are made
 * once and kept in {@link #byService}.
 */
final class GatewayMetrics implements AutoCloseable {
    /** Request service names are chosen by callers: past this many, the rest share one series. */
    static final int MAX_SERVICE_SERIES = 1000;
    static final String OTHER_SERVICES = "_other";
    private static final Duration[] BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private final ConcurrentHashMap<String, Series> byService = new ConcurrentHashMap<>();
    private final AtomicLong inFlight = new AtomicLong();
    private final Map<ReplyFormat, AtomicLong> openStreams = new EnumMap<>(ReplyFormat.class);
    /** The broker's figures as meters; read and written only under the scrape lock ({@link #render}). */
    private final Map<SnapshotKey, SnapshotValue> brokerMeters = new HashMap<>();
    /** When the snapshot applied last was asked for; under the scrape lock. */
    private long lastSnapshotAskedAt;
    private boolean appliedSnapshot;

    GatewayMetrics() {
        // Two of Micrometer's names break Prometheus's naming rules (promtool check metrics): a CPU time
        // in nanoseconds, where Prometheus's own name is process_cpu_seconds_total, and a gauge ending
        // in _count, which reads as part of a histogram.
        registry.config().meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")));
        registry.config().meterFilter(new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                return id.getName().equals("system.cpu.count") ? id.withName("system.cpus") : id;
            }
        });
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu", os, bean -> bean.getProcessCpuTime() / 1e9).baseUnit("seconds")
                    .description("CPU time used by the process").register(registry);
        }
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        Gauge.builder("mdpgw.inflight", inFlight, AtomicLong::get)
                .description("HTTP requests waiting for or streaming a reply").register(registry);
        for (ReplyFormat format : ReplyFormat.values()) {
            if (format.isStreaming()) {
                AtomicLong open = new AtomicLong();
                openStreams.put(format, open);
                Gauge.builder("mdpgw.streams.open", open, AtomicLong::get)
                        .description("open streaming replies, by format")
                        .tag("format", format.name().toLowerCase(Locale.ROOT)).register(registry);
            }
        }
    }

    /** Adds the HTTP server's thread-pool and connection metrics; call once the server exists. */
    void bindJetty(Server server, QueuedThreadPool threads) {
        new JettyServerThreadPoolMetrics(threads, Tags.empty()).bindTo(registry);
        JettyConnectionMetrics.addToAllConnectors(server, registry);
    }

    /** One service's meters, made once. */
    private final class Series {
        final String service;
        final ConcurrentHashMap<Integer, Counter> byStatus = new ConcurrentHashMap<>();
        final Counter partials;
        final Counter timeouts;
        final Counter clientsGone;
        final Timer duration;

        Series(String service) {
            this.service = service;
            partials = Counter.builder("mdpgw.partials").description("PARTIAL replies relayed")
                    .tag("service", service).register(registry);
            timeouts = Counter.builder("mdpgw.timeouts")
                    .description("requests a worker took but did not finish in time (504)")
                    .tag("service", service).register(registry);
            clientsGone = Counter.builder("mdpgw.clients.gone")
                    .description("HTTP clients that left before their reply ended")
                    .tag("service", service).register(registry);
            duration = Timer.builder("mdpgw.request.duration").description("time from request to last byte")
                    .tag("service", service).serviceLevelObjectives(BUCKETS).register(registry);
        }

        Counter status(int status) {
            Counter c = byStatus.get(status);
            return c != null ? c : byStatus.computeIfAbsent(status, s -> Counter.builder("mdpgw.requests")
                    .description("HTTP requests to services, by reply status")
                    .tags("service", service, "code", Integer.toString(s)).register(registry));
        }
    }

    private Series series(String service) {
        Series s = byService.get(service);
        if (s != null) {
            return s;
        }
        if (byService.size() >= MAX_SERVICE_SERIES) {
            return byService.computeIfAbsent(OTHER_SERVICES, Series::new);
        }
        return byService.computeIfAbsent(service, Series::new);
    }

    void started(ReplyFormat format) {
        inFlight.incrementAndGet();
        if (format.isStreaming()) {
            openStreams.get(format).incrementAndGet();
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
        s.status(status).increment();
        if (status == 504) {
            s.timeouts.increment();
        }
        s.duration.record(elapsedNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /**
     * The Prometheus text exposition of every meter, with the broker's figures from {@code broker},
     * a snapshot asked for at {@code askedAt} ({@link System#nanoTime}). Of two scrapes at once, the
     * one whose snapshot is older does not apply it: counters never go back.
     */
    synchronized String render(List<ServiceStats> broker, long askedAt) {
        if (appliedSnapshot && askedAt - lastSnapshotAskedAt < 0) {
            return registry.scrape();
        }
        appliedSnapshot = true;
        lastSnapshotAskedAt = askedAt;
        brokerMeters.values().forEach(v -> v.seen = false);
        for (ServiceStats s : broker) {
            Tags service = Tags.of("service", s.service());
            gauge("mdpgw.workers", "registered workers, by service and state", service.and("state", "idle"),
                    s.idleWorkers());
            gauge("mdpgw.workers", "registered workers, by service and state", service.and("state", "busy"),
                    s.busyWorkers());
            s.workersByDialect().forEach((dialect, counts) -> {
                Tags tags = service.and("dialect", dialect.label());
                String help = "registered workers, by service, Majordomo dialect and state";
                gauge("mdpgw.broker.workers", help, tags.and("state", "idle"), counts.idle());
                gauge("mdpgw.broker.workers", help, tags.and("state", "busy"), counts.busy());
            });
            s.requestsByClient().forEach((client, n) -> counter("mdpgw.broker.requests",
                    "requests the broker received, by service and by the dialect of their client (in-process: this "
                            + "gateway)", service.and("client", client), n));
            gauge("mdpgw.queue.depth", "requests waiting for a worker", service, s.queued());
            gauge("mdpgw.broker.inflight", "requests held by workers", service, s.inFlight());
            counter("mdpgw.broker.served", "requests answered with a FINAL", service, s.served());
            counter("mdpgw.broker.failed", "requests that ended without a FINAL", service, s.failed());
            counter("mdpgw.broker.resent", "requests resent after a worker died", service, s.resent());
            counter("mdpgw.broker.expired", "requests no worker took in time", service, s.expired());
            counter("mdpgw.broker.refused", "requests refused, queue full", service, s.refused());
            counter("mdpgw.broker.denied", "requests dropped because the ACL does not let their client call the service",
                    service, s.denied());
            s.droppedByReason().forEach((reason, n) -> counter("mdpgw.broker.dropped",
                    "commands the broker's socket did not take, by service and reason (peer-queue-full, peer-gone)",
                    service.and("reason", reason), n));
        }
        // A service the broker no longer lists leaves the exposition.
        for (Iterator<SnapshotValue> it = brokerMeters.values().iterator(); it.hasNext(); ) {
            SnapshotValue v = it.next();
            if (!v.seen) {
                registry.remove(v.meter);
                it.remove();
            }
        }
        return registry.scrape();
    }

    private void gauge(String name, String help, Tags tags, double value) {
        snapshot(name, tags, value, v -> Gauge.builder(name, v, x -> x.value).description(help).tags(tags)
                .register(registry));
    }

    private void counter(String name, String help, Tags tags, double value) {
        snapshot(name, tags, value, v -> FunctionCounter.builder(name, v, x -> x.value).description(help).tags(tags)
                .register(registry));
    }

    private void snapshot(String name, Tags tags, double value, java.util.function.Function<SnapshotValue, Meter> make) {
        SnapshotValue v = brokerMeters.computeIfAbsent(new SnapshotKey(name, tags), k -> new SnapshotValue());
        v.value = value;
        v.seen = true;
        if (v.meter == null) {
            v.meter = make.apply(v);
        }
    }

    private record SnapshotKey(String name, Tags tags) {}

    /** A broker figure as of the last scrape; meters read it when the registry is scraped. */
    private static final class SnapshotValue {
        volatile double value;
        boolean seen;
        Meter meter;
    }

    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
    }

    private static Duration[] seconds(double... values) {
        Duration[] out = new Duration[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Duration.ofNanos(Math.round(values[i] * 1e9));
        }
        return out;
    }
}
