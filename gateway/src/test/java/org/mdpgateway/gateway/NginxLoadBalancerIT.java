package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.worker.RequestHandler;
import org.mdpgateway.testing.JavaProcess;
import org.mdpgateway.testing.SseEvents;

/**
 * Three gateway processes (the shaded jar, each with its own embedded broker) behind a real nginx
 * configured from {@code deploy/nginx/nginx.conf.template}, with native workers registered with all
 * three brokers: streams pass through live, wrk measures one gateway against three, a gateway killed
 * with SIGKILL costs only the requests it had, and one stopped with SIGTERM alone, under load, costs
 * nothing.
 *
 * <p>Without nginx or wrk this is skipped, except on CI ({@code CI=true}), where it fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(120)
class NginxLoadBalancerIT {
    private static final Path JAR = Path.of("target/mdp-gateway.jar");
    private static final Path TEMPLATE = Path.of("../deploy/nginx/nginx.conf.template");
    private static final Pattern LISTENING = Pattern.compile("gateway listening on http://[^:]+:(\\d+) \\(broker at");
    private static final Duration HEARTBEAT = Duration.ofMillis(500);
    /** The gateway the SIGTERM case stops; it alone has a drain delay. */
    private static final int LEAVING = 2;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final List<GatewayProcess> gateways = new ArrayList<>();
    private final List<MdpWorker> workers = new ArrayList<>();
    /** The parts the {@code steps} workers have sent, and the test's go-ahead for each next one. */
    private final AtomicInteger stepsSent = new AtomicInteger();
    private final BlockingQueue<Boolean> stepsRelease = new LinkedBlockingQueue<>();

    private Path nginx;
    private Path wrk;
    private Path prefix;
    private int nginxPort;
    private int generation;
    private Process nginxProcess;
    private String lb;

    @BeforeAll
    void start() throws Exception {
        nginx = findTool("NGINX", "nginx", "/usr/sbin/nginx").orElse(null);
        wrk = findTool("WRK", "wrk", "/usr/bin/wrk").orElse(null);
        if (nginx == null || wrk == null) {
            String message = (nginx == null ? "no nginx" : "no wrk") + " found; install with: apt-get install -y nginx wrk";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail(message + " (CI=true: the load-balancer test may not be skipped)");
            }
            Assumptions.abort(message + "; skipping (CI=true makes this a failure)");
        }
        assertTrue(Files.isRegularFile(JAR), "build the jar first (mvn package): " + JAR.toAbsolutePath());
        for (int i = 0; i < 3; i++) {
            gateways.add(new GatewayProcess(i, freePort(), freePort()));
        }
        for (GatewayProcess g : gateways) {
            g.launch();
        }
        for (GatewayProcess g : gateways) {
            g.awaitListening();
        }
        List<String> endpoints = gateways.stream().map(GatewayProcess::brokerEndpoint).toList();
        startWorkers(endpoints, "echo", 3, (request, partials) -> request);
        startWorkers(endpoints, "slow", 4, (request, partials) -> {
            String text = request.string(0);
            Thread.sleep(text.startsWith("sleep:") ? Long.parseLong(text.split(":")[1]) : 100);
            return request;
        });
        startWorkers(endpoints, "steps", 1, (request, partials) -> {
            int parts = Integer.parseInt(request.string(0));
            for (int k = 1; k <= parts; k++) {
                stepsSent.set(k);
                partials.send(Body.ofStrings("part-" + k));
                if (stepsRelease.poll(20, TimeUnit.SECONDS) == null) {
                    throw new IllegalStateException("the test never read part " + k);
                }
            }
            return Body.ofStrings("done");
        });
        for (GatewayProcess g : gateways) {
            for (String service : List.of("echo", "slow", "steps")) {
                awaitAvailable(g.base() + "/services/" + service);
            }
        }

        prefix = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "nginx-it-");
        nginxPort = freePort();
        lb = "http://127.0.0.1:" + nginxPort;
        writeConfig(gateways, List.of());
        nginxProcess = new ProcessBuilder(nginx.toString(), "-p", prefix.toString(), "-c", conf().toString(),
                "-e", prefix.resolve("error.log").toString())
                .redirectErrorStream(true).redirectOutput(prefix.resolve("nginx.out").toFile()).start();
        awaitGeneration();
    }

    /**
     * The native workers of one service: {@code perBroker} {@link MdpWorker}s connected to each
     * broker. Kept in one place, as one worker connected to several brokers may replace them.
     */
    /**
     * {@code perBroker} workers for {@code service}, each on every broker at once (one connection and
     * one READY per broker), with a handler per broker so each broker sees as many free workers.
     */
    private void startWorkers(List<String> brokerEndpoints, String service, int perBroker, RequestHandler handler) {
        for (int i = 0; i < perBroker; i++) {
            workers.add(MdpWorker.builder(brokerEndpoints, service).maxInFlight(brokerEndpoints.size())
                    .heartbeatInterval(HEARTBEAT).reconnectDelay(Duration.ofMillis(200)).start(handler));
        }
    }

    @AfterAll
    void stop() throws Exception {
        workers.forEach(MdpWorker::close);
        if (nginxProcess != null) {
            nginxProcess.destroy();
            nginxProcess.waitFor(10, TimeUnit.SECONDS);
            nginxProcess.destroyForcibly();
        }
        for (GatewayProcess g : gateways) {
            g.kill();
        }
    }

    @Test
    @Order(1)
    void plainPosts_andNdjsonAndSseStreams_passThroughLive() throws Exception {
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> reply = post(lb + "/services/echo", "hello-" + i, "*/*");
            assertEquals(200, reply.statusCode(), reply.body());
            assertEquals("hello-" + i, reply.body());
        }
        // Round robin: the six went to all three gateways.
        String log = Files.readString(prefix.resolve("access.log"));
        for (GatewayProcess g : gateways) {
            assertTrue(log.contains("upstream=127.0.0.1:" + g.httpPort), "no request went to " + g + ":\n" + log);
        }

        // Three of each, so that each gateway streams one. Every part is read while its worker waits
        // for the test's go-ahead, so nobody on the way held it back until the next one or the end.
        for (int i = 0; i < 3; i++) {
            for (String accept : List.of("application/x-ndjson", "text/event-stream")) {
                stepsRelease.clear();
                HttpRequest request = HttpRequest.newBuilder(URI.create(lb + "/services/steps"))
                        .timeout(Duration.ofSeconds(30)).header("Accept", accept)
                        .POST(HttpRequest.BodyPublishers.ofString("3")).build();
                HttpResponse<java.io.InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
                assertEquals(200, response.statusCode());
                assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith(accept));
                try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), UTF_8))) {
                    for (int k = 1; k <= 3; k++) {
                        String part = readPart(in, accept);
                        assertNotNull(part, accept + ": the stream ended before part " + k);
                        assertTrue(part.contains("\"partial\"") && part.contains("part-" + k), accept + " part " + k + ": " + part);
                        assertEquals(k, stepsSent.get(), "the worker went on before part " + k + " was read");
                        stepsRelease.add(true);
                    }
                    String last = readPart(in, accept);
                    assertNotNull(last, accept + ": no final");
                    assertTrue(last.contains("\"final\"") && last.contains("done"), accept + " final: " + last);
                }
            }
        }
    }

    private static String readPart(BufferedReader in, String accept) throws IOException {
        if (accept.equals("text/event-stream")) {
            SseEvents.Event event = SseEvents.next(in);
            return event == null ? null : "\"" + event.name() + "\" " + event.data();
        }
        return in.readLine();
    }

    @Test
    @Order(2)
    void throughput_oneGatewayAgainstThree() throws Exception {
        Path script = prefix.resolve("post.lua");
        Files.writeString(script, "wrk.method = \"POST\"\nwrk.body = \"hello\"\n"
                + "wrk.headers[\"Content-Type\"] = \"text/plain\"\n");
        List<String> figures = new ArrayList<>();
        for (List<GatewayProcess> upstream : List.of(gateways.subList(0, 1), gateways)) {
            writeConfig(upstream, List.of());
            reload();
            Process run = new ProcessBuilder(wrk.toString(), "-t2", "-c16", "-d4s", "--latency", "-s", script.toString(),
                    lb + "/services/echo").redirectErrorStream(true).start();
            String out = new String(run.getInputStream().readAllBytes(), UTF_8);
            assertTrue(run.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, run.exitValue(), out);
            System.out.println("[nginx-lb] wrk, " + upstream.size() + " gateway(s) behind nginx:\n" + out);
            assertTrue(!out.contains("Non-2xx") && !out.contains("Socket errors"), "wrk saw failures:\n" + out);
            Matcher requests = Pattern.compile("(\\d+) requests in").matcher(out);
            assertTrue(requests.find() && Long.parseLong(requests.group(1)) > 0, out);
            Matcher rate = Pattern.compile("Requests/sec:\\s+([\\d.]+)").matcher(out);
            Matcher latency = Pattern.compile("Latency\\s+(\\S+)").matcher(out);
            assertTrue(rate.find() && latency.find(), out);
            figures.add(upstream.size() + " gateway(s): " + rate.group(1) + " requests/s, mean latency " + latency.group(1));
        }
        System.out.println("[nginx-lb] POST /services/echo through nginx, wrk -t2 -c16 -d4s: " + String.join("; ", figures));
        writeConfig(gateways, List.of());
        reload();
    }

    @Test
    @Order(3)
    void sigkill_costsOnlyTheRequestsInFlight_andTheRestartedGatewayGetsItsWorkersBack() throws Exception {
        GatewayProcess victim = gateways.get(1);
        Load load = new Load("kill");
        load.start(8);
        Thread.sleep(1500);
        long killStart = System.nanoTime();
        victim.process.destroyForcibly();
        assertTrue(victim.process.waitFor(10, TimeUnit.SECONDS));
        long killed = System.nanoTime();
        Thread.sleep(3000);
        load.stop();

        List<Outcome> failed = load.outcomes.stream().filter(o -> !o.ok).toList();
        List<Outcome> afterKill = load.outcomes.stream().filter(o -> o.startedAt > killed).toList();
        System.out.printf("[nginx-lb] kill -9 under load: %d requests, %d failed (in flight at the kill), %d started after"
                + " it, all answered; the failures: %s%n", load.outcomes.size(), failed.size(), afterKill.size(),
                failed.stream().map(o -> o.detail).toList());
        assertTrue(afterKill.size() > 50, "too little load after the kill: " + afterKill.size());
        for (Outcome o : failed) {
            assertTrue(o.startedAt < killed && o.endedAt > killStart,
                    "a request that was not in flight at the kill failed: " + o.detail + "\n" + nginxErrors());
        }
        assertTrue(failed.size() <= 8, "more failures than requests in flight: " + failed);

        long restart = System.nanoTime();
        victim.launch();
        victim.awaitListening();
        for (String service : List.of("echo", "slow", "steps")) {
            awaitAvailable(victim.base() + "/services/" + service);
        }
        System.out.printf("[nginx-lb] restarted on the same ports; workers registered again after %d ms%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restart));
        HttpResponse<String> direct = post(victim.base() + "/services/echo", "back", "*/*");
        assertEquals(200, direct.statusCode());
        assertEquals("back", direct.body());
    }

    @Test
    @Order(4)
    void sigtermAlone_underLoad_losesNothing() throws Exception {
        GatewayProcess leaving = gateways.get(LEAVING);
        Load load = new Load("term");
        load.start(8);
        Thread.sleep(1000);
        // Requests the leaving gateway holds when the signal comes: sent to it directly, 3 s each.
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(http.sendAsync(HttpRequest.newBuilder(URI.create(leaving.base() + "/services/slow"))
                    .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString("sleep:3000:held-" + i))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        Thread.sleep(300); // for them to reach it
        // No marking down, no reload: the signal alone. Through its drain delay the gateway serves as
        // before; then its port refuses connections, which nginx passes on to another gateway.
        long sigterm = System.nanoTime();
        leaving.process.toHandle().destroy(); // SIGTERM
        assertTrue(leaving.process.waitFor(30, TimeUnit.SECONDS), "the gateway exits after draining");
        long exitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigterm);
        Thread.sleep(1000);
        load.stop();

        for (int i = 0; i < held.size(); i++) {
            HttpResponse<String> reply = held.get(i).get(30, TimeUnit.SECONDS);
            assertEquals(200, reply.statusCode(), reply.body());
            assertEquals("sleep:3000:held-" + i, reply.body());
        }
        List<Outcome> failed = load.outcomes.stream().filter(o -> !o.ok).toList();
        long afterSignal = load.outcomes.stream().filter(o -> o.startedAt > sigterm).count();
        String access = Files.readString(prefix.resolve("access.log"));
        String leavingAddress = "127.0.0.1:" + leaving.httpPort;
        long passedOn = access.lines().filter(l -> l.contains(" \"POST /services/slow") && l.contains(" term-")
                && l.contains("upstream=" + leavingAddress + ", ")).count();
        System.out.printf("[nginx-lb] SIGTERM alone (drain delay 500 ms): %d requests through nginx, %d failed, %d started"
                + " after the signal, %d passed on by nginx after the leaving gateway refused the connection; the held"
                + " requests finished; exit %d after %d ms%n", load.outcomes.size(), failed.size(), afterSignal, passedOn,
                leaving.process.exitValue(), exitedMs);
        assertEquals(List.of(), failed.stream().map(o -> o.detail).toList(), nginxErrors() + "\n" + leaving.output());
        assertTrue(afterSignal > 20, "too little load after the signal: " + afterSignal);
        assertTrue(leaving.output().contains("serving as before for 500 ms"), leaving.output());
        assertEquals(0, leaving.process.exitValue(), "a drained stop exits 0:\n" + leaving.output());
    }

    /** Loops of POSTs to {@code slow} through nginx from several threads, each request's outcome kept. */
    private final class Load {
        final String tag;
        final AtomicBoolean stop = new AtomicBoolean();
        final ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
        final List<Thread> threads = new ArrayList<>();

        Load(String tag) {
            this.tag = tag;
        }

        void start(int n) {
            for (int t = 0; t < n; t++) {
                int loader = t;
                Thread thread = new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String body = tag + "-" + loader + "-" + i;
                        long startedAt = System.nanoTime();
                        String detail;
                        boolean ok = false;
                        try {
                            HttpResponse<String> reply = http.send(HttpRequest.newBuilder(URI.create(lb + "/services/slow"))
                                    .timeout(Duration.ofSeconds(20)).header("X-Request-Id", body)
                                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            ok = reply.statusCode() == 200 && reply.body().equals(body);
                            detail = body + ": " + reply.statusCode() + " " + reply.body();
                        } catch (IOException e) {
                            detail = body + ": " + e;
                        } catch (InterruptedException e) {
                            return;
                        }
                        outcomes.add(new Outcome(body, startedAt, System.nanoTime(), ok, detail));
                    }
                });
                threads.add(thread);
                thread.start();
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            for (Thread thread : threads) {
                thread.join(30_000);
            }
        }
    }

    private record Outcome(String id, long startedAt, long endedAt, boolean ok, String detail) {}

    /** One gateway: the shaded jar in its own JVM, on fixed ports so that it can come back on them. */
    private static final class GatewayProcess {
        final int index;
        final int httpPort;
        final int brokerPort;
        final List<String> output = new ArrayList<>();
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Process process;

        GatewayProcess(int index, int httpPort, int brokerPort) {
            this.index = index;
            this.httpPort = httpPort;
            this.brokerPort = brokerPort;
        }

        String base() {
            return "http://127.0.0.1:" + httpPort;
        }

        String brokerEndpoint() {
            return "tcp://127.0.0.1:" + brokerPort;
        }

        void launch() throws IOException {
            lines.clear();
            process = JavaProcess.jar(JAR, List.of("-Xmx256m", "-XX:+UseSerialGC"), List.of("--http-host", "127.0.0.1",
                    "--http-port", String.valueOf(httpPort), "--broker-bind", brokerEndpoint(),
                    "--heartbeat-interval-ms", String.valueOf(HEARTBEAT.toMillis()), "--drain-grace-ms", "8000",
                    "--drain-delay-ms", index == LEAVING ? "500" : "0"))
                    .redirectErrorStream(true).start();
            Process mine = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(mine.getInputStream(), UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        synchronized (output) {
                            output.add("[" + index + "] " + line);
                        }
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // the process ended
                }
            });
            reader.setDaemon(true);
            reader.start();
        }

        void awaitListening() throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < end) {
                String line = lines.poll(100, TimeUnit.MILLISECONDS);
                if (line != null && LISTENING.matcher(line).find()) {
                    return;
                }
            }
            throw new AssertionError("gateway " + index + " never said it was listening: " + output());
        }

        String output() {
            synchronized (output) {
                return String.join("\n", output);
            }
        }

        void kill() {
            if (process != null) {
                process.destroyForcibly();
            }
        }

        @Override
        public String toString() {
            return "gateway " + index + " at " + base();
        }
    }

    private Path conf() {
        return prefix.resolve("nginx.conf");
    }

    private void writeConfig(List<GatewayProcess> upstream, List<GatewayProcess> down) throws IOException {
        generation++;
        String servers = upstream.stream().map(g -> "        server 127.0.0.1:" + g.httpPort + " max_fails=1 fail_timeout=5s"
                + (down.contains(g) ? " down" : "") + ";").collect(Collectors.joining("\n"));
        Files.writeString(conf(), Files.readString(TEMPLATE).replace("@@PREFIX@@", prefix.toString())
                .replace("@@LISTEN@@", "127.0.0.1:" + nginxPort).replace("@@SERVERS@@", servers)
                .replace("@@GENERATION@@", String.valueOf(generation)));
    }

    /** {@code nginx -s reload}, then waits until the new configuration answers. */
    private void reload() throws Exception {
        Process signal = new ProcessBuilder(nginx.toString(), "-p", prefix.toString(), "-c", conf().toString(),
                "-e", prefix.resolve("error.log").toString(), "-s", "reload").redirectErrorStream(true).start();
        String out = new String(signal.getInputStream().readAllBytes(), UTF_8);
        assertTrue(signal.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, signal.exitValue(), out);
        awaitGeneration();
    }

    private void awaitGeneration() throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        String last = null;
        while (System.nanoTime() < end) {
            if (!nginxProcess.isAlive()) {
                throw new AssertionError("nginx exited: " + Files.readString(prefix.resolve("nginx.out")) + nginxErrors());
            }
            try {
                last = http.send(HttpRequest.newBuilder(URI.create(lb + "/lb/generation")).GET().build(),
                        HttpResponse.BodyHandlers.ofString()).body().trim();
                if (last.equals(String.valueOf(generation))) {
                    return;
                }
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nginx never served configuration " + generation + " (last: " + last + "):\n"
                + nginxErrors());
    }

    private String nginxErrors() {
        try {
            return "nginx error.log:\n" + Files.readString(prefix.resolve("error.log"));
        } catch (IOException e) {
            return "no nginx error.log: " + e;
        }
    }

    private void awaitAvailable(String url) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int status = -1;
        while (System.nanoTime() < end) {
            try {
                status = http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode();
                if (status == 200) {
                    return;
                }
            } catch (IOException e) {
                // not up yet
            }
            Thread.sleep(50);
        }
        throw new AssertionError(url + " never became available (last status " + status + ")");
    }

    private HttpResponse<String> post(String url, String body, String accept) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Optional<Path> findTool(String envVariable, String name, String usual) {
        Stream<Path> candidates = Stream.concat(
                Stream.of(System.getenv(envVariable), usual).filter(s -> s != null && !s.isBlank()).map(Path::of),
                Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                        .filter(s -> !s.isEmpty()).map(dir -> Path.of(dir, name)));
        return candidates.filter(Files::isExecutable).findFirst();
    }
}
