package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.testing.Await;
import org.mdpgateway.testing.JavaProcess;

/**
 * HTTPS on the HTTP port with a PKCS12 key store made by {@code keytool}: no plain listener is left on
 * it, streams flow part by part through TLS, the redirect port answers 308, and the application says
 * https:// and never logs a credential.
 */
class TlsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OpenApiContract CONTRACT = OpenApiContract.get();
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    static Path dir;
    private static Path keystore;
    private static TlsSettings tls;
    private static HttpClient https;
    private final HttpClient plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(WAIT).build();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Gateway gateway;
    private Process process;

    @BeforeAll
    static void keystore() throws Exception {
        keystore = TestCredentials.keystore(dir);
        tls = TlsSettings.load(keystore, TestCredentials.passwordFile(dir));
        SSLContext trust = TestCredentials.trusting(keystore);
        https = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(trust)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(WAIT).build();
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        if (gateway != null) {
            gateway.close();
        }
        if (process != null) {
            process.destroyForcibly();
        }
    }

    private Gateway start(int redirectPort) {
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0).withDrainGrace(Duration.ofMillis(500)).withHttpAcceptQueue(64)
                .withTls(tls, redirectPort));
        return gateway;
    }

    private URI httpsUri(String path) {
        return URI.create("https://127.0.0.1:" + gateway.httpPort() + path);
    }

    @Test
    void theHttpPort_speaksHttpsOnly() throws Exception {
        start(GatewayConfig.NO_REDIRECT);
        HttpRequest request = HttpRequest.newBuilder(httpsUri("/health/live")).timeout(WAIT).GET().build();
        HttpResponse<String> live = https.send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, null, live);
        assertEquals(200, live.statusCode());
        assertEquals("up", JSON.readTree(live.body()).get("status").asText());
        assertTrue(live.sslSession().isPresent(), "the exchange went over TLS");

        // Plain HTTP on the same port: no HTTP answer at all, only a TLS alert or a closed connection.
        try (Socket socket = new Socket("127.0.0.1", gateway.httpPort())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(UTF_8));
            out.flush();
            String answer = new String(readUntilClosed(socket.getInputStream()), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertFalse(answer.contains("\"status\":\"up\""), "plain HTTP was served: " + answer);
            assertFalse(answer.startsWith("HTTP/1.1 2"), "plain HTTP was served: " + answer);
        }
    }

    @Test
    void sse_overTls_arrivesPartByPart() throws Exception {
        start(GatewayConfig.NO_REDIRECT);
        CountDownLatch release = new CountDownLatch(1);
        String broker = gateway.localBrokerEndpoint();
        closeables.add(MdpWorker.builder(broker, "gated").start((body, partials) -> {
            partials.send(Body.ofStrings("first"));
            assertTrue(release.await(10, TimeUnit.SECONDS));
            return Body.ofStrings("last");
        }));
        assertTrue(Await.until(() -> {
            try {
                return https.send(HttpRequest.newBuilder(httpsUri("/services/gated")).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException | InterruptedException e) {
                return false;
            }
        }, WAIT));
        HttpRequest request = HttpRequest.newBuilder(httpsUri("/services/gated")).timeout(WAIT)
                .header("Accept", "text/event-stream").POST(HttpRequest.BodyPublishers.ofString("go")).build();
        OpenApiContract.Stream response = CONTRACT.checkStream(request, "go",
                https.send(request, HttpResponse.BodyHandlers.ofInputStream()));
        assertEquals(200, response.status());
        assertTrue(response.header("Content-Type").startsWith("text/event-stream"));
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
        assertEquals("event: partial", lines.readLine());
        assertEquals("id: 1", lines.readLine());
        JsonNode partial = JSON.readTree(lines.readLine().substring("data: ".length()));
        assertEquals("first", partial.get("frames").get(0).get("text").asText());
        assertEquals("", lines.readLine());
        assertEquals(1, release.getCount(), "the PARTIAL came through TLS while the worker still held its FINAL");
        release.countDown();
        assertEquals("event: final", lines.readLine());
        assertEquals("id: 2", lines.readLine());
        assertEquals("last", JSON.readTree(lines.readLine().substring(6)).get("frames").get(0).get("text").asText());
        assertEquals("", lines.readLine());
        assertEquals(null, lines.readLine());
        response.checkBody();
    }

    @Test
    void ndjson_overTls_isChunked() throws Exception {
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0).withDemoWorkers(true).withDrainGrace(Duration.ofMillis(500))
                .withTls(tls, GatewayConfig.NO_REDIRECT));
        assertTrue(Await.until(() -> {
            try {
                return https.send(HttpRequest.newBuilder(httpsUri("/services/count")).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException | InterruptedException e) {
                return false;
            }
        }, WAIT));
        HttpRequest request = HttpRequest.newBuilder(httpsUri("/services/count")).timeout(WAIT)
                .header("Accept", "application/x-ndjson").POST(HttpRequest.BodyPublishers.ofString("3")).build();
        OpenApiContract.Stream response = CONTRACT.checkStream(request, "3",
                https.send(request, HttpResponse.BodyHandlers.ofInputStream()));
        assertEquals(200, response.status());
        assertEquals(null, response.header("Content-Length"), "streamed, not collected");
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
        for (int seq = 1; seq <= 3; seq++) {
            JsonNode item = JSON.readTree(lines.readLine());
            assertEquals("partial", item.get("type").asText());
            assertEquals(seq, item.get("seq").asInt());
        }
        assertEquals("final", JSON.readTree(lines.readLine()).get("type").asText());
        assertEquals(null, lines.readLine());
        response.checkBody();
    }

    @Test
    void theRedirectPort_answers308_toTheHttpsUrl() throws Exception {
        start(0);
        int redirect = gateway.httpRedirectPort();
        assertTrue(redirect > 0 && redirect != gateway.httpPort(), "redirect port " + redirect);
        HttpResponse<String> get = plain.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + redirect + "/services/echo?timeout=5")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(308, get.statusCode());
        assertEquals("https://127.0.0.1:" + gateway.httpPort() + "/services/echo?timeout=5",
                get.headers().firstValue("Location").orElse(null));
        assertEquals("", get.body());
        // 308 keeps the method: a POST is told to POST again, to the https URL.
        HttpResponse<String> post = plain.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + redirect + "/services/echo")).POST(HttpRequest.BodyPublishers.ofString("x"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(308, post.statusCode());
        // The location works.
        HttpResponse<String> followed = https.send(HttpRequest.newBuilder(URI.create(
                get.headers().firstValue("Location").orElseThrow().replace("/services/echo?timeout=5", "/health/live")))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, followed.statusCode());
    }

    /**
     * The application as operators run it: {@code --tls-keystore} and {@code --api-keys-file} from the
     * command line, the log line says https://, and the access log has the request id but never the key.
     */
    @Test
    void theJar_saysHttps_andItsAccessLogNeverHasTheCredential() throws Exception {
        Path jar = Path.of("target/mdp-gateway.jar");
        assertTrue(Files.isRegularFile(jar), "build the jar first (mvn package): " + jar.toAbsolutePath());
        String key = "k-" + Long.toHexString(System.nanoTime()) + "-secret-api-key";
        Path keys = TestCredentials.write(dir.resolve("jar-api-keys"), TestCredentials.keyLine(key, "echo") + "\n");
        ProcessBuilder builder = JavaProcess.jar(jar, List.of(), List.of("--demo-workers", "--http-host", "127.0.0.1",
                "--http-port", "0", "--broker-bind", "tcp://127.0.0.1:*", "--access-log",
                "--api-keys-file", keys.toString(), "--tls-keystore", keystore.toString(),
                "--tls-keystore-password-file", dir.resolve("keystore-password").toString()))
                .redirectErrorStream(true);
        process = builder.start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        List<String> output = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    output.add(line);
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        reader.setDaemon(true);
        reader.start();
        Pattern listening = Pattern.compile("gateway listening on https://127\\.0\\.0\\.1:(\\d+) ");
        Matcher m = null;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (m == null && System.nanoTime() < end) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && listening.matcher(line).find()) {
                m = listening.matcher(line);
                assertTrue(m.find());
            }
        }
        assertTrue(m != null, "the gateway never said it was listening on https: " + output);
        URI echo = URI.create("https://127.0.0.1:" + m.group(1) + "/services/echo");
        String requestId = "tls-jar-" + System.nanoTime();
        assertTrue(Await.until(() -> {
            try {
                return https.send(HttpRequest.newBuilder(echo).header("Authorization", "Bearer " + key).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException | InterruptedException e) {
                return false;
            }
        }, WAIT));
        HttpResponse<String> ok = https.send(HttpRequest.newBuilder(echo).header("X-Request-Id", requestId)
                .header("X-Api-Key", key).POST(HttpRequest.BodyPublishers.ofString("hi")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode());
        HttpResponse<String> refused = https.send(HttpRequest.newBuilder(echo).header("X-Request-Id", requestId + "-bad")
                .header("Authorization", "Bearer " + key + "x").POST(HttpRequest.BodyPublishers.ofString("hi")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, refused.statusCode());
        assertTrue(Await.until(() -> String.join("\n", output).contains(requestId + "-bad POST /services/echo 401"),
                WAIT), "no access log line: " + output);
        process.toHandle().destroy();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        reader.join(10_000);
        String log = String.join("\n", output);
        assertTrue(log.contains(requestId + " POST /services/echo 200"), log);
        assertFalse(log.contains(key), "the credential was logged:\n" + log);
        assertFalse(log.contains(TestCredentials.keyLine(key, "").strip()), "the key's hash was logged:\n" + log);
    }

    private static byte[] readUntilClosed(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream seen = new java.io.ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                seen.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException | java.net.SocketException e) {
            // a reset or no answer: not HTTP either way
        }
        return seen.toByteArray();
    }
}
