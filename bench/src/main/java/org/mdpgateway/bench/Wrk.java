package org.mdpgateway.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP load from {@code wrk} (the Debian package), POSTing a fixed body over keep-alive connections.
 * A small Lua script prints the counts and latency percentiles on one line at the end.
 */
final class Wrk {
    private static final Pattern RESULT = Pattern.compile(
            "BENCH requests=(\\d+) duration_us=(\\d+) errors=(\\d+) non2xx=(\\d+) p50=(\\d+) p99=(\\d+) p999=(\\d+)");

    record Result(long requests, long nanos, long errors, double p50Us, double p99Us, double p999Us) {}

    private Wrk() {}

    /** Finds wrk, or installs it with apt-get when run as root; null when neither works. */
    static String find() {
        for (String candidate : List.of("/usr/bin/wrk", "/usr/local/bin/wrk")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        if ("root".equals(System.getProperty("user.name"))) {
            System.out.println("installing wrk (apt-get install wrk)");
            try {
                Process p = new ProcessBuilder("sh", "-c",
                        "apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)")
                        .inheritIO().start();
                p.waitFor(5, TimeUnit.MINUTES);
            } catch (IOException e) {
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
            return Files.isExecutable(Path.of("/usr/bin/wrk")) ? "/usr/bin/wrk" : null;
        }
        return null;
    }

    static Path script(Path dir, String name, byte[] body, Map<String, String> headers) {
        StringBuilder lua = new StringBuilder();
        lua.append("wrk.method = \"POST\"\n");
        lua.append("wrk.body = \"").append(new String(body, StandardCharsets.US_ASCII)).append("\"\n");
        headers.forEach((k, v) -> lua.append("wrk.headers[\"").append(k).append("\"] = \"").append(v).append("\"\n"));
        lua.append("""
                done = function(summary, latency, requests)
                  local e = summary.errors
                  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d non2xx=%d p50=%d p99=%d p999=%d\\n",
                    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
                    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
                end
                """);
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(name + ".lua");
            Files.writeString(file, lua);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Result run(String wrk, Path script, String url, int connections, Duration window) {
        List<String> command = List.of(wrk, "-t1", "-c" + connections, "-d" + window.toSeconds() + "s",
                "--timeout", "10s", "-s", script.toString(), url);
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            Matcher m = RESULT.matcher(out);
            if (!m.find()) {
                throw new IllegalStateException("wrk printed no result:\n" + out);
            }
            long requests = Long.parseLong(m.group(1));
            long errors = Long.parseLong(m.group(3)) + Long.parseLong(m.group(4));
            return new Result(requests - Long.parseLong(m.group(4)), Long.parseLong(m.group(2)) * 1000, errors,
                    Double.parseDouble(m.group(5)), Double.parseDouble(m.group(6)), Double.parseDouble(m.group(7)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
