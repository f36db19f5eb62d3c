package org.mdpgateway.gateway;

import org.mdpgateway.testing.Await;
import org.mdpgateway.testing.JavaProcess;

import static org.mdpgateway.testing.RawFrames.receive;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** The application as a user runs it: the shaded jar in its own process, stopped with SIGTERM. */
class GatewayJarIT {
    private static final Path JAR = Path.of("target/mdp-gateway.jar");
    private static final Pattern LISTENING =
            Pattern.compile("gateway listening on http://[^:]+:(\\d+) \\(broker at (tcp://[^,)]+)");

    private static final OpenApiContract CONTRACT = OpenApiContract.get();

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<String> output = new ArrayList<>();
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private Process process;
    private Thread reader;

    @AfterEach
    void kill() {
        if (process != null) {
            process.destroyForcibly();
        }
    }

    private Process launch(List<String> args, String... env) throws IOException {
        assertTrue(Files.isRegularFile(JAR), "build the jar first (mvn package): " + JAR.toAbsolutePath());
        ProcessBuilder builder = JavaProcess.jar(JAR, List.of(), args).redirectErrorStream(true);
        for (int i = 0; i < env.length; i += 2) {
            builder.environment().put(env[i], env[i + 1]);
        }
        process = builder.start();
        reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    synchronized (output) {
                        output.add(line);
                    }
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        reader.setDaemon(true);
        reader.start();
        return process;
    }

    private Matcher awaitListening() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    return m;
                }
            }
        }
        throw new AssertionError("the gateway never said it was listening: " + output);
    }

    @Test
    void help_listsEveryFlag_andExitsZero() throws Exception {
        Process p = launch(List.of("--help"));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        reader.join(10_000);
        String help;
        synchronized (output) {
            help = String.join("\n", output);
        }
        for (String flag : List.of("--http-host", "--http-port", "--broker-bind", "--heartbeat-interval-ms",
                "--heartbeat-liveness", "--request-expiry-ms", "--max-queued", "--request-timeout-ms",
                "--max-request-timeout-ms", "--max-body-bytes", "--cors-origin", "--demo-workers", "MDPGW_HTTP_PORT")) {
            assertTrue(help.contains(flag), "help lacks " + flag + ":\n" + help);
        }
        Process bad = launch(List.of("--no-such-flag"));
        assertTrue(bad.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, bad.exitValue());
    }

    @Test
    void demoWorkersAndNativeWorkers_serveHttp_andSigtermDrains() throws Exception {
        launch(List.of("--demo-workers", "--http-host", "127.0.0.1", "--broker-bind", "tcp://127.0.0.1:*",
                "--heartbeat-interval-ms", "500"), "MDPGW_HTTP_PORT", "0");
        Matcher listening = awaitListening();
        String base = "http://127.0.0.1:" + listening.group(1);
        String brokerEndpoint = listening.group(2);

        awaitAvailable(base + "/services/echo");
        assertEquals("hello", post(base + "/services/echo", "hello", "*/*").body());

        // A native worker, frames built by hand, on the broker port the log line named.
        try (ZContext context = new ZContext(1)) {
            ZMQ.Socket worker = context.createSocket(SocketType.DEALER);
            worker.setHandshakeIvl(500);
            worker.setReceiveTimeOut(10_000);
            worker.connect(brokerEndpoint);
            worker.send("MDPW02", ZMQ.SNDMORE);
            worker.send(new byte[] {1}, ZMQ.SNDMORE);
            worker.send("native");
            awaitAvailable(base + "/services/native");
            Thread answer = new Thread(() -> {
                List<byte[]> request;
                do {
                    request = receive(worker);
                } while (request != null && request.size() == 2); // heartbeats
                if (request != null) {
                    worker.send("MDPW02", ZMQ.SNDMORE);
                    worker.send(new byte[] {4}, ZMQ.SNDMORE);
                    worker.send(request.get(2), ZMQ.SNDMORE);
                    worker.send(new byte[0], ZMQ.SNDMORE);
                    worker.send("native says " + new String(request.get(4), UTF_8));
                }
            });
            answer.start();
            assertEquals("native says hi", post(base + "/services/native", "hi", "*/*").body());
            answer.join(10_000);
        }

        // SIGTERM while a stream is open: it finishes within the drain grace, then the process exits.
        HttpRequest streamRequest = HttpRequest.newBuilder(URI.create(base + "/services/count"))
                .header("Accept", "application/x-ndjson").POST(HttpRequest.BodyPublishers.ofString("5")).build();
        OpenApiContract.Stream stream = CONTRACT.checkStream(streamRequest, "5",
                http.send(streamRequest, HttpResponse.BodyHandlers.ofInputStream()));
        BufferedReader ndjson = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        assertTrue(ndjson.readLine().contains("\"partial\""));
        process.toHandle().destroy(); // SIGTERM, without closing our end of its output as Process.destroy does
        String line;
        String last = null;
        while ((line = ndjson.readLine()) != null) {
            last = line;
        }
        assertNotNull(last);
        assertTrue(last.contains("\"type\":\"final\""), "the open stream finished: " + last);
        stream.checkBody();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the gateway exits after draining");
        reader.join(10_000);
        String log;
        synchronized (output) {
            log = String.join("\n", output);
        }
        assertTrue(log.contains("gateway draining"), "exit " + process.exitValue() + " last " + last + "\n" + log);
        assertTrue(log.contains("gateway stopped"), log);
    }

    @Test
    void sigtermUnderLoad_inFlightRequestsFinish_openConnectionsAreServed_newOnesRefused_andTheProcessExitsZero() throws Exception {
        launch(List.of("--demo-workers", "--http-host", "127.0.0.1", "--broker-bind", "tcp://127.0.0.1:*",
                "--http-port", "0", "--heartbeat-interval-ms", "500", "--drain-grace-ms", "8000"));
        Matcher listening = awaitListening();
        String base = "http://127.0.0.1:" + listening.group(1);
        List<MdpWorker> workers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            workers.add(MdpWorker.builder(listening.group(2), "slow").heartbeatInterval(Duration.ofMillis(500))
                    .start((request, partials) -> {
                        Thread.sleep(300);
                        return request;
                    }));
        }
        try {
            awaitAvailable(base + "/services/slow");
            awaitAvailable(base + "/services/echo");
            AtomicLong sigtermAt = new AtomicLong(Long.MAX_VALUE);
            AtomicBoolean stop = new AtomicBoolean();
            List<String> broken = new CopyOnWriteArrayList<>();
            AtomicInteger servedAcrossSigterm = new AtomicInteger();
            // New connections refused while it drains (or, after its grace, a 503 shutting-down).
            AtomicInteger refused = new AtomicInteger();
            AtomicInteger served = new AtomicInteger();
            List<Thread> loaders = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                String service = t < 6 ? "slow" : "echo";
                int loader = t;
                Thread thread = new Thread(() -> {
                    for (int n = 0; !stop.get(); n++) {
                        String body = "load-" + loader + "-" + n;
                        long startedAt = System.nanoTime();
                        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/services/" + service))
                                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        try {
                            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                            boolean accepted = sentWellBefore(sigtermAt.get(), startedAt);
                            if (response.statusCode() == 200 && response.body().equals(body)) {
                                served.incrementAndGet();
                                if (accepted && System.nanoTime() > sigtermAt.get()) {
                                    servedAcrossSigterm.incrementAndGet();
                                }
                            } else if (!accepted && response.statusCode() == 503
                                    && response.body().contains("urn:mdp-gateway:problem:shutting-down")) {
                                refused.incrementAndGet();
                            } else {
                                broken.add(body + ": " + response.statusCode() + " " + response.body());
                            }
                        } catch (IOException e) {
                            if (sentWellBefore(sigtermAt.get(), startedAt)) {
                                broken.add(body + ": " + e);
                            } else if (e instanceof java.net.ConnectException) {
                                refused.incrementAndGet();
                            } else if (!process.isAlive()) {
                                return; // the gateway is gone: nothing more to send
                            }
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                loaders.add(thread);
                thread.start();
            }
            Thread.sleep(1500);
            assertTrue(served.get() > 0, "no load reached the gateway");
            // A request on its way at the signal, on a connection opened before it: the head is
            // sent, the blank line that ends it comes once the gateway has closed its port. It is
            // served, on a connection then closed. (The loaders' requests after the signal are
            // served on the connections they have, then find the port closed: refused.)
            Socket onItsWay = new Socket("127.0.0.1", Integer.parseInt(listening.group(1)));
            onItsWay.setSoTimeout(20_000);
            String late = "on-its-way";
            onItsWay.getOutputStream().write(("POST /services/echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    + late.length() + "\r\n").getBytes(UTF_8));
            onItsWay.getOutputStream().flush();
            sigtermAt.set(System.nanoTime());
            process.toHandle().destroy(); // SIGTERM
            assertTrue(Await.until(() -> {
                synchronized (output) {
                    return output.stream().anyMatch(l -> l.contains("gateway draining"));
                }
            }, Duration.ofSeconds(10)), "the gateway never said it was draining");
            try (onItsWay) {
                onItsWay.getOutputStream().write(("\r\n" + late).getBytes(UTF_8));
                onItsWay.getOutputStream().flush();
                String response = new String(onItsWay.getInputStream().readAllBytes(), UTF_8);
                if (!(response.startsWith("HTTP/1.1 200") && response.contains(late)
                        && response.toLowerCase(Locale.ROOT).contains("connection: close"))) {
                    broken.add(late + ": " + response);
                }
            }
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the gateway exits after draining");
            long exitedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigtermAt.get());
            stop.set(true);
            for (Thread thread : loaders) {
                thread.join(30_000);
            }
            reader.join(10_000);
            String log;
            synchronized (output) {
                log = String.join("\n", output);
            }
            assertEquals(List.of(), broken, "requests the gateway had accepted and did not answer right; its log:\n" + log);
            assertTrue(servedAcrossSigterm.get() > 0, "no request was in flight at SIGTERM");
            assertTrue(refused.get() > 0, "no new connection was refused while the gateway drained");
            assertTrue(exitedAfterMs < 8000 + 5000, "drained in " + exitedAfterMs + " ms, grace 8000");
            assertEquals(0, process.exitValue(), "a drained stop exits 0");
        } finally {
            workers.forEach(MdpWorker::close);
        }
    }

    /** Sent this long before the signal, the gateway had the request, and must answer it. */
    private static boolean sentWellBefore(long sigtermAt, long sentAt) {
        return sigtermAt == Long.MAX_VALUE || sigtermAt - sentAt > TimeUnit.MILLISECONDS.toNanos(200);
    }

    @Test
    void accessLog_isOffByDefault_andOneLinePerRequestWithTheSwitch() throws Exception {
        for (boolean on : new boolean[] {false, true}) {
            output.clear();
            lines.clear();
            List<String> args = new ArrayList<>(List.of("--demo-workers", "--http-host", "127.0.0.1",
                    "--broker-bind", "tcp://127.0.0.1:*", "--http-port", "0"));
            if (on) {
                args.add("--access-log");
            }
            launch(args);
            String base = "http://127.0.0.1:" + awaitListening().group(1);
            awaitAvailable(base + "/services/echo");
            String requestId = "access-log-check-" + on;
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/services/echo"))
                    .header("X-Request-Id", requestId).POST(HttpRequest.BodyPublishers.ofString("hi")).build();
            assertEquals(200, http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode());
            // The line is written as the response completes; give it a moment, then stop the process.
            Thread.sleep(300);
            process.toHandle().destroy();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            reader.join(10_000);
            String log;
            synchronized (output) {
                log = String.join("\n", output);
            }
            assertEquals(on, log.contains(requestId + " POST /services/echo 200"), (on ? "a line" : "no line")
                    + " for the request was expected:\n" + log);
        }
    }

    private void awaitAvailable(String url) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            HttpRequest request = HttpRequest.newBuilder(URI.create(url)).GET().build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            CONTRACT.check(request, null, response);
            if (response.statusCode() == 200) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError(url + " never became available");
    }

    /** POST, the request and the response checked against the OpenAPI document. */
    private HttpResponse<String> post(String url, String body, String accept) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
                .header("Accept", accept).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, body, response);
        return response;
    }

}
