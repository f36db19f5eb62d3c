package org.mdpgateway.bench;

import org.mdpgateway.mdp.security.CurveCertificate;
import org.mdpgateway.mdp.security.CurveClientKeys;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The scenarios, the processes they run against, and the interleaved rounds. Processes are started
 * once and shared by the scenarios that need them: one relay and one broker for the JeroMQ paths,
 * one gateway, one process of workers and one bare Javalin for the HTTP paths.
 */
final class Scenarios implements AutoCloseable {
    static final List<String> NAMES = List.of("broker-seq", "broker-16", "broker-64k", "broker-curve", "libs-seq",
            "libs-16", "libs-client-seq", "libs-worker-seq",
            "gateway-demo", "gateway-8w", "gateway-dashboard", "gateway-sse", "gateway-idle-streams");
    private static final byte[] SMALL = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BIG = new byte[64 * 1024];

    static {
        Arrays.fill(BIG, (byte) 'x');
    }

    private final BenchMain.Timing timing;
    private final Path logs;
    private final int cores;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final Set<Side> warmed = new HashSet<>();
    private String wrk;

    // The JeroMQ rig, started on first use.
    private Child relay;
    private Child broker;
    private String relayEndpoint;
    private String brokerEndpoint;
    private final Map<String, RawPeers.Clients> rawClients = new LinkedHashMap<>();
    private MdpClient libClient;

    // The HTTP rig, started on first use.
    private Child gateway;
    private Child workers;
    private Child javalin;
    private int gatewayPort;
    private int javalinPort;

    Scenarios(BenchMain.Timing timing, Path logs, int cores) {
        this.timing = timing;
        this.logs = logs;
        this.cores = cores;
    }

    String generatorDescription() {
        return "JeroMQ paths: closed-loop threads in the bench's JVM; HTTP paths: "
                + (wrk == null ? "wrk (not found)" : "wrk -t1 (" + wrk + ")")
                + "; idle streams: one thread of non-blocking sockets";
    }

    List<Map<String, Object>> runAll(Set<String> only) {
        List<Map<String, Object>> results = new ArrayList<>();
        for (String name : NAMES) {
            if (!only.isEmpty() && !only.contains(name)) {
                continue;
            }
            System.out.println("== " + name);
            Map<String, Object> result;
            try {
                result = run(name);
            } catch (RuntimeException e) {
                e.printStackTrace();
                result = new LinkedHashMap<>();
                result.put("name", name);
                result.put("skipped", "failed: " + e.getMessage());
            }
            results.add(result);
        }
        return results;
    }

    private Map<String, Object> run(String name) {
        return switch (name) {
            case "broker-seq" -> pair(name, "req", rawThroughBroker("seq", 1, SMALL), rawThroughRelay("seq", 1, SMALL),
                    r -> ratioAtLeast(r, 0.9) && cpuAtMost(r, 1.3), "ratio >= 0.9, cpu <= 1.3x the relay's");
            case "broker-16" -> pair(name, "req", rawThroughBroker("16", 16, SMALL), rawThroughRelay("16", 16, SMALL),
                    r -> ratioAtLeast(r, 0.9) && cpuAtMost(r, 1.3), "ratio >= 0.9, cpu <= 1.3x the relay's");
            case "broker-64k" -> pair(name, "req", rawThroughBroker("64k", 1, BIG), rawThroughRelay("64k", 1, BIG),
                    r -> ratioAtLeast(r, 0.8), "ratio >= 0.8");
            case "broker-curve" -> pair(name, "req", rawThroughCurveBroker(), rawThroughBroker("seq", 1, SMALL),
                    r -> true, null);
            case "libs-seq" -> pair(name, "req", libs(1), rawThroughBroker("seq", 1, SMALL),
                    r -> ratioAtLeast(r, 0.8), "ratio >= 0.8 of raw peers");
            // The two halves of libs-seq apart: where its gap to raw peers lies.
            case "libs-client-seq" -> pair(name, "req", libClientToRawWorkers(), rawThroughBroker("seq", 1, SMALL),
                    r -> true, null);
            case "libs-worker-seq" -> pair(name, "req", rawClientToLibWorkers(), rawThroughBroker("seq", 1, SMALL),
                    r -> true, null);
            case "libs-16" -> pair(name, "req", libs(16), rawThroughBroker("16", 16, SMALL),
                    r -> ratioAtLeast(r, 0.8), "ratio >= 0.8 of raw peers");
            case "gateway-demo" -> needsWrk(name) ? pair(name, "req", gatewayPost("/services/echo", 16, 1), libs(1),
                    r -> ratioAtLeast(r, 0.8), "ratio >= 0.8 of libs-seq") : skipped(name);
            case "gateway-8w" -> needsWrk(name) ? pair(name, "req", gatewayPost("/services/echo8", 64, 1),
                    javalinPost("/echo", 64, 1),
                    r -> ratioAtLeast(r, 0.3) && (double) r.get("cpu_us_per_op") <= 100,
                    "ratio >= 0.3 of bare Javalin, <= 100 us gateway cpu/req") : skipped(name);
            case "gateway-dashboard" -> needsWrk(name) ? withSnapshots(pair(name, "req", watchingDashboard(
                    gatewayPost("/services/echo8", 64, 1)), gatewayPost("/services/echo8", 64, 1),
                    r -> ratioAtLeast(r, 0.9), "ratio >= 0.9 of the same load with no dashboard open"))
                    : skipped(name);
            case "gateway-sse" -> needsWrk(name) ? pair(name, "part", gatewayPost("/services/stream", 64, 11),
                    javalinPost("/sse", 64, 11), r -> true, null) : skipped(name);
            case "gateway-idle-streams" -> idleStreams();
            default -> throw new IllegalArgumentException(name);
        };
    }

    // ---- the interleaved rounds -----------------------------------------------------------------

    private Map<String, Object> pair(String name, String unit, Side candidate, Side limit,
            java.util.function.Predicate<Map<String, Object>> target, String targetText) {
        warm(limit);
        warm(candidate);
        List<Trial> candidates = new ArrayList<>();
        List<Trial> limits = new ArrayList<>();
        int dropped = 0;
        for (int round = 0; round < timing.rounds(); round++) {
            for (int attempt = 0; ; attempt++) {
                Trial l = limit.run(timing.window());
                Trial c = candidate.run(timing.window());
                double foreign = Math.max(l.foreignShare(), c.foreignShare());
                boolean bad = l.failed() || c.failed() || foreign > BenchMain.MAX_FOREIGN_SHARE;
                System.out.printf(Locale.ROOT, "   round %d: limit %.0f/s, candidate %.0f/s, ratio %.3f, cpu %.0f/%.0f us/op,"
                                + " foreign %.0f%%%s%n", round + 1, l.opsPerSecond(), c.opsPerSecond(),
                        c.opsPerSecond() / l.opsPerSecond(), c.serverCpuUsPerOp(), l.serverCpuUsPerOp(), 100 * foreign,
                        bad ? (attempt < timing.retries() ? " (dropped, retrying)" : " (kept: out of retries)") : "");
                if (!bad || attempt >= timing.retries()) {
                    candidates.add(c);
                    limits.add(l);
                    break;
                }
                dropped++;
            }
        }
        double[] ratios = new double[candidates.size()];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = candidates.get(i).opsPerSecond() / limits.get(i).opsPerSecond();
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", name);
        r.put("unit", unit);
        r.put("ops_per_s", median(candidates, Trial::opsPerSecond));
        r.put("limit_ops_per_s", median(limits, Trial::opsPerSecond));
        r.put("ratio", median(ratios));
        r.put("ratio_min", Arrays.stream(ratios).min().orElse(Double.NaN));
        r.put("ratio_max", Arrays.stream(ratios).max().orElse(Double.NaN));
        r.put("p50_us", median(candidates, Trial::p50Us));
        r.put("p99_us", median(candidates, Trial::p99Us));
        r.put("p999_us", median(candidates, Trial::p999Us));
        r.put("limit_p50_us", median(limits, Trial::p50Us));
        r.put("limit_p99_us", median(limits, Trial::p99Us));
        r.put("limit_p999_us", median(limits, Trial::p999Us));
        r.put("cpu_us_per_op", median(candidates, Trial::serverCpuUsPerOp));
        r.put("limit_cpu_us_per_op", median(limits, Trial::serverCpuUsPerOp));
        r.put("worker_cpu_us_per_op", median(candidates, Trial::workerCpuUsPerOp));
        r.put("generator_cpu_us_per_op", median(candidates, Trial::generatorCpuUsPerOp));
        r.put("limit_generator_cpu_us_per_op", median(limits, Trial::generatorCpuUsPerOp));
        r.put("generator_cpu_share", median(candidates, t -> t.generatorShare(cores)));
        r.put("errors", candidates.stream().mapToLong(Trial::errors).sum());
        r.put("limit_errors", limits.stream().mapToLong(Trial::errors).sum());
        r.put("rounds_kept", candidates.size());
        r.put("trials_dropped", dropped);
        r.put("foreign_share_max", candidates.stream().mapToDouble(Trial::foreignShare).max().orElse(0));
        r.put("target", targetText);
        r.put("meets_target", targetText == null ? null : target.test(r));
        return r;
    }

    private void warm(Side side) {
        if (warmed.add(side)) {
            side.run(side instanceof HttpSide ? timing.httpWarmup() : timing.zmqWarmup());
        }
    }

    private static boolean ratioAtLeast(Map<String, Object> r, double min) {
        return (double) r.get("ratio") >= min;
    }

    private static boolean cpuAtMost(Map<String, Object> r, double timesLimit) {
        return (double) r.get("cpu_us_per_op") <= timesLimit * (double) r.get("limit_cpu_us_per_op");
    }

    private static double median(List<Trial> trials, java.util.function.ToDoubleFunction<Trial> f) {
        return median(trials.stream().mapToDouble(f).toArray());
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        if (n == 0) {
            return Double.NaN;
        }
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    // ---- the JeroMQ sides ------------------------------------------------------------------------

    private final Map<String, Side> sides = new LinkedHashMap<>();

    private void startZmqRig() {
        if (broker != null) {
            return;
        }
        int relayPort = Child.freePort();
        relayEndpoint = "tcp://127.0.0.1:" + relayPort;
        relay = closing(Child.java("relay", logs, Roles.class.getName(), List.of("relay", "tcp://*:" + relayPort)))
                .awaitOutput("READY", Duration.ofSeconds(20));
        int brokerPort = Child.freePort();
        brokerEndpoint = "tcp://127.0.0.1:" + brokerPort;
        broker = closing(Child.java("broker", logs, "org.mdpgateway.broker.BrokerMain",
                List.of("--bind", "tcp://*:" + brokerPort))).awaitPort(brokerPort, Duration.ofSeconds(20));
        closing(new RawPeers.Workers(relayEndpoint, RawPeers.Shape.RELAY, "-", 4));
        closing(new RawPeers.Workers(brokerEndpoint, RawPeers.Shape.MDP, "echo", 4));
        for (int i = 0; i < 4; i++) {
            closing(MdpWorker.builder(brokerEndpoint, "lib").start((request, partials) -> request));
        }
        libClient = closing(MdpClient.builder(brokerEndpoint).timeout(Duration.ofSeconds(10)).attempts(1).build());
        libClient.request("lib", Body.of(SMALL)); // waits, with retries, for the workers' READY
    }

    private Side rawThroughBroker(String shape, int clients, byte[] body) {
        return sides.computeIfAbsent("broker-" + shape, k -> {
            startZmqRig();
            RawPeers.Clients c = closing(new RawPeers.Clients(brokerEndpoint, RawPeers.Shape.MDP, "echo", clients, body));
            return window -> Side.measured(List.of(broker.pid()), -1,
                    () -> Side.of(ClosedLoop.run(clients, window, c::operation)));
        });
    }

    /**
     * Sequential raw peers through a second broker that speaks CURVE, every peer with an allowed key;
     * its limit is the same through the NULL broker: what CURVE costs a round trip.
     */
    private Side rawThroughCurveBroker() {
        return sides.computeIfAbsent("curve-broker", k -> {
            startZmqRig();
            try {
                Path keys = java.nio.file.Files.createTempDirectory("mdp-bench-curve");
                Path allowed = java.nio.file.Files.createDirectories(keys.resolve("allowed"));
                CurveCertificate brokerCert = CurveCertificate.generate();
                brokerCert.writeTo(keys, "broker");
                CurveCertificate peer = CurveCertificate.generate();
                java.nio.file.Files.copy(peer.writeTo(keys, "peer")[0], allowed.resolve("peer.key"));
                CurveClientKeys curve = new CurveClientKeys(brokerCert.publicKey(), peer);
                int port = Child.freePort();
                String endpoint = "tcp://127.0.0.1:" + port;
                Child curveBroker = closing(Child.java("curve-broker", logs, "org.mdpgateway.broker.BrokerMain",
                        List.of("--bind", "tcp://*:" + port, "--curve-secret-key-file",
                                keys.resolve("broker.key_secret").toString(), "--curve-allowed-dir",
                                allowed.toString()))).awaitPort(port, Duration.ofSeconds(20));
                closing(new RawPeers.Workers(endpoint, RawPeers.Shape.MDP, "echo", 4, curve));
                RawPeers.Clients c = closing(new RawPeers.Clients(endpoint, RawPeers.Shape.MDP, "echo", 1, SMALL, curve));
                return window -> Side.measured(List.of(curveBroker.pid()), -1,
                        () -> Side.of(ClosedLoop.run(1, window, c::operation)));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private Side rawThroughRelay(String shape, int clients, byte[] body) {
        return sides.computeIfAbsent("relay-" + shape, k -> {
            startZmqRig();
            RawPeers.Clients c = closing(new RawPeers.Clients(relayEndpoint, RawPeers.Shape.RELAY, "-", clients, body));
            return window -> Side.measured(List.of(relay.pid()), -1,
                    () -> Side.of(ClosedLoop.run(clients, window, c::operation)));
        });
    }

    /** {@code threads} callers sharing one {@link MdpClient}, served by four {@link MdpWorker}s. */
    /** One sequential {@code MdpClient} and the raw workers of the limit. */
    private Side libClientToRawWorkers() {
        return sides.computeIfAbsent("libs-client", k -> {
            startZmqRig();
            Body body = Body.of(SMALL);
            return window -> Side.measured(List.of(broker.pid()), -1,
                    () -> Side.of(ClosedLoop.run(1, window, t -> () ->
                            Arrays.equals(libClient.request("echo", body).finalBody().frame(0), SMALL))));
        });
    }

    /** One sequential raw client of the limit, and the four {@code MdpWorker}s. */
    private Side rawClientToLibWorkers() {
        return sides.computeIfAbsent("libs-worker", k -> {
            startZmqRig();
            RawPeers.Clients c = closing(new RawPeers.Clients(brokerEndpoint, RawPeers.Shape.MDP, "lib", 1, SMALL));
            return window -> Side.measured(List.of(broker.pid()), -1,
                    () -> Side.of(ClosedLoop.run(1, window, c::operation)));
        });
    }

    private Side libs(int threads) {
        return sides.computeIfAbsent("libs-" + threads, k -> {
            startZmqRig();
            Body body = Body.of(SMALL);
            return window -> Side.measured(List.of(broker.pid()), -1,
                    () -> Side.of(ClosedLoop.run(threads, window, t -> () ->
                            Arrays.equals(libClient.request("lib", body).finalBody().frame(0), SMALL))));
        });
    }

    // ---- the HTTP sides --------------------------------------------------------------------------

    /** A side driven by wrk; warmed for longer, as JIT warm-up of an HTTP server is long. */
    private interface HttpSide extends Side {}

    private boolean needsWrk(String name) {
        if (wrk == null) {
            wrk = Wrk.find();
        }
        if (wrk == null) {
            System.out.println("   skipped: wrk is not installed (apt-get install wrk)");
        }
        return wrk != null;
    }

    private static Map<String, Object> skipped(String name) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", name);
        r.put("skipped", "wrk is not installed (apt-get install wrk)");
        return r;
    }

    private void startHttpRig() {
        if (gateway != null) {
            return;
        }
        gatewayPort = Child.freePort();
        int gatewayBrokerPort = Child.freePort();
        gateway = closing(Child.java("gateway", logs, "org.mdpgateway.gateway.GatewayMain",
                List.of("--http-host", "127.0.0.1", "--http-port", Integer.toString(gatewayPort),
                        "--broker-bind", "tcp://127.0.0.1:" + gatewayBrokerPort, "--demo-workers",
                        "--drain-grace-ms", "500")))
                .awaitHttp200("http://127.0.0.1:" + gatewayPort + "/health/ready", Duration.ofSeconds(30));
        String endpoint = "tcp://127.0.0.1:" + gatewayBrokerPort;
        workers = closing(Child.java("workers", logs, Roles.class.getName(),
                List.of("workers", endpoint, "echo8", "8", "echo")));
        workers.awaitOutput("READY", Duration.ofSeconds(20));
        Child streamers = closing(Child.java("streamers", logs, Roles.class.getName(),
                List.of("workers", endpoint, "stream", "8", "stream")));
        streamers.awaitOutput("READY", Duration.ofSeconds(20));
        for (String service : List.of("echo", "echo8", "stream")) {
            gateway.awaitHttp200("http://127.0.0.1:" + gatewayPort + "/services/" + service, Duration.ofSeconds(20));
        }
        javalinPort = Child.freePort();
        javalin = closing(Child.java("javalin", logs, Roles.class.getName(),
                List.of("javalin-limits", Integer.toString(javalinPort))))
                .awaitPort(javalinPort, Duration.ofSeconds(20));
        streamersPid = streamers.pid();
    }

    private long streamersPid;

    private Side gatewayPost(String path, int connections, int opsPerRequest) {
        return sides.computeIfAbsent("gateway" + path, k -> {
            startHttpRig();
            boolean sse = path.endsWith("stream");
            Path script = Wrk.script(logs, "gateway" + path.replace('/', '-'), SMALL,
                    sse ? Map.of("Accept", "text/event-stream") : Map.of("Content-Type", "application/octet-stream"));
            String url = "http://127.0.0.1:" + gatewayPort + path;
            long workerPid = path.endsWith("echo8") ? workers.pid() : sse ? streamersPid : -1;
            return (HttpSide) window -> Side.measured(List.of(gateway.pid()), workerPid,
                    () -> Side.of(Wrk.run(wrk, script, url, connections, window), opsPerRequest));
        });
    }

    /** Snapshots the dashboard streams of {@link #watchingDashboard} received in all. */
    private final java.util.concurrent.atomic.AtomicLong dashboardSnapshots = new java.util.concurrent.atomic.AtomicLong();

    /**
     * {@code load} with one dashboard open: a {@code GET /dashboard/events} stream read for the whole
     * trial, as a browser's page would, so the gateway takes a broker snapshot a second and sends it.
     */
    private Side watchingDashboard(Side load) {
        return sides.computeIfAbsent("dashboard+" + System.identityHashCode(load), k -> (HttpSide) window -> {
            // A plain socket, so that closing it surely ends the stream before the limit's trial runs.
            java.net.Socket socket = new java.net.Socket();
            try {
                socket.connect(new java.net.InetSocketAddress("127.0.0.1", gatewayPort), 5_000);
                socket.getOutputStream().write(("GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + "Accept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot open the dashboard stream", e);
            }
            Thread reader = new Thread(() -> {
                try (java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(
                        socket.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = lines.readLine()) != null; ) {
                        if (line.equals("event: snapshot")) {
                            dashboardSnapshots.incrementAndGet();
                        }
                    }
                } catch (java.io.IOException e) {
                    // closed when the trial ends
                }
            }, "dashboard-watcher");
            reader.setDaemon(true);
            reader.start();
            try {
                return load.run(window);
            } finally {
                try {
                    socket.close();
                } catch (java.io.IOException ignored) {
                    // closing anyway
                }
            }
        });
    }

    private Map<String, Object> withSnapshots(Map<String, Object> result) {
        result.put("dashboard_snapshots", dashboardSnapshots.get());
        return result;
    }

    private Side javalinPost(String path, int connections, int opsPerRequest) {
        return sides.computeIfAbsent("javalin" + path, k -> {
            startHttpRig();
            Path script = Wrk.script(logs, "javalin" + path.replace('/', '-'), SMALL,
                    path.equals("/sse") ? Map.of("Accept", "text/event-stream")
                            : Map.of("Content-Type", "application/octet-stream"));
            String url = "http://127.0.0.1:" + javalinPort + path;
            return (HttpSide) window -> Side.measured(List.of(javalin.pid()), -1,
                    () -> Side.of(Wrk.run(wrk, script, url, connections, window), opsPerRequest));
        });
    }

    // ---- idle streams ----------------------------------------------------------------------------

    private Map<String, Object> idleStreams() {
        return IdleStreamsScenario.run(timing.idleStreams(), timing.idleHold(), logs);
    }

    private <T extends AutoCloseable> T closing(T resource) {
        toClose.add(resource);
        return resource;
    }

    @Override
    public void close() {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                System.err.println("closing " + toClose.get(i) + " failed: " + e);
            }
        }
    }
}
