package org.mdpgateway.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The benchmark: every path of the project against its raw limit, interleaved in one run (limit,
 * candidate, limit, candidate ...) after a warm-up, on loopback TCP. Prints a table and writes
 * {@code bench-results.json}.
 *
 * <pre>
 * java -jar bench/target/mdp-bench.jar [--quick] [--only name,name] [--rounds N] [--out FILE] [--jfr]
 * </pre>
 */
public final class BenchMain {
    /** A trial is retried when other processes took more than this share of the machine. */
    static final double MAX_FOREIGN_SHARE = 0.10;

    private BenchMain() {}

    /** How long things run. */
    record Timing(Duration zmqWarmup, Duration httpWarmup, Duration window, int rounds, int retries,
            int idleStreams, Duration idleHold) {}

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Set<String> only = new LinkedHashSet<>();
        Integer rounds = null;
        Path out = Path.of("bench/target/bench-results.json");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only.addAll(List.of(args[++i].split(",")));
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--jfr" -> Child.recordFlights = true;
                case "--help", "-h" -> {
                    System.out.println("Usage: java -jar mdp-bench.jar [--quick] [--only name,name] [--rounds N] [--out FILE] [--jfr]");
                    System.out.println("--jfr: every server JVM writes a flight recording to the logs folder");
                    System.out.println("Scenarios: " + String.join(", ", Scenarios.NAMES));
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (try --help)");
            }
        }
        Timing timing = quick
                ? new Timing(Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(2), 3, 1, 2_000,
                        Duration.ofSeconds(10))
                : new Timing(Duration.ofSeconds(5), Duration.ofSeconds(12), Duration.ofSeconds(5), 5, 2, 10_000,
                        Duration.ofSeconds(30));
        if (rounds != null) {
            timing = new Timing(timing.zmqWarmup(), timing.httpWarmup(), timing.window(), rounds, timing.retries(),
                    timing.idleStreams(), timing.idleHold());
        }
        int cores = Runtime.getRuntime().availableProcessors();
        String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
        String kernel = System.getProperty("os.name") + " " + System.getProperty("os.version");
        System.out.printf("mdp-bench: %s, %d cores, %s, %s; windows of %d s, %d rounds after a warm-up%n", jvm, cores,
                kernel, quick ? "quick" : "full", timing.window().toSeconds(), timing.rounds());
        Path outDir = out.toAbsolutePath().getParent();
        Files.createDirectories(outDir);

        long started = System.nanoTime();
        List<Map<String, Object>> results;
        String generator;
        try (Scenarios scenarios = new Scenarios(timing, outDir.resolve("logs"), cores)) {
            results = scenarios.runAll(only);
            generator = scenarios.generatorDescription();
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("jvm", jvm);
        json.put("cores", cores);
        json.put("kernel", kernel);
        json.put("mode", quick ? "quick" : "full");
        json.put("generator", generator);
        json.put("jvm_flags", Child.JVM_FLAGS);
        json.put("window_s", timing.window().toSeconds());
        json.put("rounds", timing.rounds());
        json.put("seconds", Math.round((System.nanoTime() - started) / 1e9));
        json.put("scenarios", results);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), json);
        printTable(results);
        System.out.printf("wrote %s (%d s)%n", out, Math.round((System.nanoTime() - started) / 1e9));
    }

    static void printTable(List<Map<String, Object>> results) {
        System.out.println();
        System.out.printf(Locale.ROOT, "%-21s %10s %10s %15s %22s %13s %6s %s%n", "scenario", "ops/s", "limit/s",
                "ratio (min-max)", "p50/p99/p99.9 us", "cpu us/op", "gen", "target");
        for (Map<String, Object> r : results) {
            if (r.containsKey("skipped")) {
                System.out.printf(Locale.ROOT, "%-21s skipped: %s%n", r.get("name"), r.get("skipped"));
                continue;
            }
            if (r.containsKey("streams")) {
                System.out.printf(Locale.ROOT, "%-21s %d streams: peak heap %s MiB, peak threads %s, drained in %s s, "
                                + "%s finals, %s errors, %s cut  %s%n",
                        r.get("name"), r.get("streams"), r.get("peak_heap_mib"), r.get("peak_threads"),
                        r.get("drain_s"), r.get("finals"), r.get("errors"), r.get("closed_early"), verdict(r));
                continue;
            }
            System.out.printf(Locale.ROOT, "%-21s %10.0f %10s %15s %22s %13s %5.0f%% %s%n",
                    r.get("name"), (double) r.get("ops_per_s"),
                    r.get("limit_ops_per_s") == null ? "-" : String.format(Locale.ROOT, "%.0f", (double) r.get("limit_ops_per_s")),
                    r.get("ratio") == null ? "-" : String.format(Locale.ROOT, "%.2f (%.2f-%.2f)", r.get("ratio"),
                            r.get("ratio_min"), r.get("ratio_max")),
                    String.format(Locale.ROOT, "%.0f/%.0f/%.0f", r.get("p50_us"), r.get("p99_us"), r.get("p999_us")),
                    String.format(Locale.ROOT, "%.0f (%s)", r.get("cpu_us_per_op"),
                            r.get("limit_cpu_us_per_op") == null ? "-"
                                    : String.format(Locale.ROOT, "%.0f", r.get("limit_cpu_us_per_op"))),
                    100 * (double) r.get("generator_cpu_share"), verdict(r));
        }
    }

    private static String verdict(Map<String, Object> r) {
        Object met = r.get("meets_target");
        String target = (String) r.get("target");
        if (target == null) {
            return "";
        }
        return (Boolean.TRUE.equals(met) ? "met: " : "MISSED: ") + target;
    }
}
