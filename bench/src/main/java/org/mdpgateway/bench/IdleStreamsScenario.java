package org.mdpgateway.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code gateway-idle-streams}: many SSE requests open at once on a service with no worker yet, the
 * way callers pile up behind a worker that is slow to come. After the hold, workers register and
 * drain the queue. Measures the gateway's peak heap and threads while they wait, and how long the
 * drain takes; every stream must end with its {@code final} event.
 */
final class IdleStreamsScenario {
    private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");
    static final int MAX_HEAP_MIB = 512;
    static final int MAX_THREADS = 200;

    private IdleStreamsScenario() {}

    static Map<String, Object> run(int streams, Duration hold, Path logs) {
        int port = Child.freePort();
        int brokerPort = Child.freePort();
        long deadlineMs = hold.toMillis() + 120_000;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "gateway-idle-streams");
        r.put("unit", "stream");
        try (Child gateway = Child.java("gateway-idle", logs, "org.mdpgateway.gateway.GatewayMain",
                List.of("--http-host", "127.0.0.1", "--http-port", Integer.toString(port),
                        "--broker-bind", "tcp://127.0.0.1:" + brokerPort, "--drain-grace-ms", "500",
                        "--max-queued", Integer.toString(streams * 2), "--max-queued-total", Integer.toString(streams * 2),
                        "--request-expiry-ms", Long.toString(deadlineMs), "--max-request-timeout-ms",
                        Long.toString(deadlineMs)))
                .awaitHttp200("http://127.0.0.1:" + port + "/health/ready", Duration.ofSeconds(30));
             IdleStreams clients = new IdleStreams(port, "/services/slow?timeout=" + deadlineMs)) {
            long peakHeap = 0;
            int peakThreads = 0;
            long openedAt = System.nanoTime();
            clients.open(port, streams);
            System.out.printf("   %d streams open in %.1f s%n", clients.open(), (System.nanoTime() - openedAt) / 1e9);
            long holdEnd = openedAt + hold.toNanos();
            while (System.nanoTime() < holdEnd) {
                clients.pump(1000);
                peakHeap = Math.max(peakHeap, heapUsedKib(gateway.pid()));
                peakThreads = Math.max(peakThreads, CpuMeter.threadCount(gateway.pid()));
            }
            int waiting = clients.open();
            System.out.printf("   holding %d streams: peak heap %d MiB, peak threads %d%n", waiting, peakHeap / 1024,
                    peakThreads);
            long drainStart;
            try (Child workers = Child.java("workers-idle", logs, Roles.class.getName(),
                    List.of("workers", "tcp://127.0.0.1:" + brokerPort, "slow", "8", "echo"))) {
                workers.awaitOutput("READY", Duration.ofSeconds(20));
                drainStart = System.nanoTime();
                long drainEnd = drainStart + Duration.ofSeconds(120).toNanos();
                long nextSample = 0;
                while (clients.open() > 0 && System.nanoTime() < drainEnd) {
                    clients.pump(100);
                    if (System.nanoTime() > nextSample) {
                        peakHeap = Math.max(peakHeap, heapUsedKib(gateway.pid()));
                        peakThreads = Math.max(peakThreads, CpuMeter.threadCount(gateway.pid()));
                        nextSample = System.nanoTime() + 1_000_000_000L;
                    }
                }
            }
            double drainSeconds = (System.nanoTime() - drainStart) / 1e9;
            r.put("ops_per_s", clients.finals() / drainSeconds);
            r.put("limit_ops_per_s", null);
            r.put("ratio", null);
            r.put("p50_us", null);
            r.put("p99_us", null);
            r.put("p999_us", null);
            r.put("cpu_us_per_op", null);
            r.put("streams", streams);
            r.put("held_while_waiting", waiting);
            r.put("hold_s", hold.toSeconds());
            r.put("peak_heap_mib", peakHeap / 1024);
            r.put("peak_threads", peakThreads);
            r.put("drain_s", Math.round(drainSeconds * 10) / 10.0);
            r.put("finals", clients.finals());
            r.put("errors", clients.errors());
            r.put("closed_early", clients.closedEarly());
            r.put("target", "all " + streams + " drained, heap < " + MAX_HEAP_MIB + " MiB, threads < " + MAX_THREADS);
            r.put("meets_target", clients.finals() == streams && waiting == streams
                    && peakHeap / 1024 < MAX_HEAP_MIB && peakThreads < MAX_THREADS);
        }
        return r;
    }

    /** The gateway's used heap now, from {@code jcmd GC.heap_info}, in KiB; 0 when unreadable. */
    static long heapUsedKib(long pid) {
        try {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(pid), "GC.heap_info").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            Matcher m = HEAP_USED.matcher(out);
            return m.find() ? Long.parseLong(m.group(1)) : 0;
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }
}
