package org.mdpgateway.gateway;

import org.mdpgateway.testing.Await;

import org.mdpgateway.testing.PrometheusText;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.worker.RequestHandler;
import org.mdpgateway.mdp.Body;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.BrokerConfig;

/** The gateway over real HTTP and real MDP workers. */
class GatewayIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final OpenApiContract CONTRACT = OpenApiContract.get();

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(WAIT).build();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Gateway gateway;

    @AfterEach
    void stop() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    private GatewayConfig config() {
        return GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0)
                .withDrainGrace(Duration.ofSeconds(2));
    }

    private Gateway start(GatewayConfig config) {
        gateway = Gateway.start(config);
        return gateway;
    }

    private Gateway start() {
        return start(config());
    }

    private void worker(String service, RequestHandler handler) throws InterruptedException {
        closeables.add(MdpWorker.builder(gateway.localBrokerEndpoint(), service).start(handler));
        awaitService(service);
    }

    private void awaitService(String service) throws InterruptedException {
        assertTrue(Await.until(() -> get("/services/" + service).statusCode() == 200, WAIT),
                "service " + service + " never registered");
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + gateway.httpPort() + path);
    }

    /** GET, the request and the response checked against the OpenAPI document. */
    private PrometheusText metrics() {
        return PrometheusText.parse(get("/metrics").body());
    }

    private HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build(), null);
    }

    /** POST, the request and the response checked against the OpenAPI document. */
    private HttpResponse<String> post(String path, String body, String... headers) {
        return send(postRequest(path, body, headers), body);
    }

    /** POST of a request that breaks the document on purpose: only the response is checked. */
    private HttpResponse<String> postBad(String path, String body, String... headers) {
        return sendBad(postRequest(path, body, headers));
    }

    private HttpRequest postRequest(String path, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return b.build();
    }

    /** Sends; the request (with {@code body}, null for none) and the response must match the document. */
    private HttpResponse<String> send(HttpRequest request, String body) {
        HttpResponse<String> response = exchange(request);
        CONTRACT.check(request, body, response);
        return response;
    }

    /** Sends a request that breaks the document on purpose; the response must match it. */
    private HttpResponse<String> sendBad(HttpRequest request) {
        HttpResponse<String> response = exchange(request);
        CONTRACT.checkResponse(request, response);
        return response;
    }

    private HttpResponse<String> exchange(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * POST whose reply the test reads as a stream: the request, status and headers are checked on
     * arrival; the test reads {@code body()} and then calls {@code checkBody()}.
     */
    private OpenApiContract.Stream postStreaming(String path, String body, String accept) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return CONTRACT.checkStream(request, body, http.send(request, HttpResponse.BodyHandlers.ofInputStream()));
    }

    /** Writes a request by hand on {@code socket} and checks the response's status line and headers. */
    private static OpenApiContract.Stream rawPost(Socket socket, String target, String body, String... headers)
            throws IOException {
        StringBuilder request = new StringBuilder("POST " + target + " HTTP/1.1\r\nHost: x\r\n");
        Map<String, List<String>> sent = new LinkedHashMap<>();
        for (int i = 0; i < headers.length; i += 2) {
            request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
            sent.put(headers[i], List.of(headers[i + 1]));
        }
        request.append("Content-Length: ").append(body.getBytes(UTF_8).length).append("\r\n\r\n").append(body);
        OutputStream out = socket.getOutputStream();
        out.write(request.toString().getBytes(UTF_8));
        out.flush();
        return CONTRACT.checkRawResponse("POST", target, sent, body, socket.getInputStream());
    }

    private static JsonNode json(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new AssertionError(body, e);
        }
    }

    private static void assertProblem(HttpResponse<String> response, int status, String slug) {
        assertEquals(status, response.statusCode(), response.body());
        assertEquals("application/problem+json", response.headers().firstValue("Content-Type").orElse(""));
        JsonNode problem = json(response.body());
        assertEquals("urn:mdp-gateway:problem:" + slug, problem.get("type").asText());
        assertEquals(status, problem.get("status").asInt());
        assertFalse(problem.get("title").asText().isEmpty());
        assertFalse(problem.get("detail").asText().isEmpty());
        assertEquals(response.headers().firstValue("X-Request-Id").orElseThrow(), problem.get("instance").asText());
    }

    /** A worker that sends one PARTIAL, then waits for the test before its FINAL. */
    private static final class Gate implements RequestHandler {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch started = new CountDownLatch(1);

        @Override
        public Body handle(Body request, PartialSink partials) throws Exception {
            partials.send(Body.ofStrings("first"));
            started.countDown();
            assertTrue(release.await(10, TimeUnit.SECONDS));
            return Body.ofStrings("last");
        }
    }

    // ---- POST ----------------------------------------------------------------------------------

    @Test
    void rawBody_isOneFrame_andTheReplyFramesComeBackAsRawBytes() throws Exception {
        start();
        worker("echo", (request, partials) -> request);
        HttpResponse<String> response = post("/services/echo", "hello", "X-Request-Id", "my-id-42",
                "Content-Type", "text/plain");
        assertEquals(200, response.statusCode());
        assertEquals("hello", response.body());
        assertEquals("application/octet-stream", response.headers().firstValue("Content-Type").orElse(""));
        assertEquals("my-id-42", response.headers().firstValue("X-Request-Id").orElse(""));
        // A reply that is one FINAL is whole when it is written: a length, not chunks.
        assertEquals("5", response.headers().firstValue("Content-Length").orElse(""));
        assertTrue(response.headers().firstValue("Transfer-Encoding").isEmpty());
        assertTrue(post("/services/echo", "x").headers().firstValue("X-Request-Id").orElse("").length() >= 32,
                "a request id is made up when none is sent");
    }

    @Test
    void framesEnvelope_andJsonReply_keepTextAndBinaryFrames() throws Exception {
        start();
        worker("echo", (request, partials) -> {
            partials.send(Body.ofStrings("p"));
            return request;
        });
        String binary = Base64.getEncoder().encodeToString(new byte[] {0, (byte) 0xff, 0x10});
        HttpResponse<String> response = post("/services/echo",
                "{\"frames\":[{\"text\":\"héllo\"},{\"text\":\"\"},{\"base64\":\"" + binary + "\"}]}",
                "Content-Type", "application/vnd.mdp.frames+json", "Accept", "application/json");
        assertEquals(200, response.statusCode(), response.body());
        JsonNode body = json(response.body());
        assertEquals("echo", body.get("service").asText());
        assertEquals(2, body.get("parts").size());
        assertEquals("partial", body.get("parts").get(0).get("type").asText());
        assertEquals(1, body.get("parts").get(0).get("seq").asInt());
        JsonNode fin = body.get("parts").get(1);
        assertEquals("final", fin.get("type").asText());
        assertEquals(2, fin.get("seq").asInt());
        assertEquals("héllo", fin.get("frames").get(0).get("text").asText());
        assertEquals("", fin.get("frames").get(1).get("text").asText());
        assertEquals(binary, fin.get("frames").get(2).get("base64").asText());
    }

    @Test
    void sse_streamsEachPartialBeforeTheFinalIsSent() throws Exception {
        start();
        Gate gate = new Gate();
        worker("gated", gate);
        OpenApiContract.Stream response = postStreaming("/services/gated", "go", "text/event-stream");
        assertEquals(200, response.status());
        assertTrue(response.header("Content-Type").startsWith("text/event-stream"));
        assertEquals("no-cache", response.header("Cache-Control"));
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
        assertEquals("event: partial", lines.readLine());
        assertEquals("id: 1", lines.readLine());
        JsonNode partial = json(lines.readLine().substring("data: ".length()));
        assertEquals("partial", partial.get("type").asText());
        assertEquals("first", partial.get("frames").get(0).get("text").asText());
        assertEquals("", lines.readLine());
        assertEquals(1, gate.release.getCount(), "the PARTIAL arrived while the worker still held its FINAL");
        gate.release.countDown();
        assertEquals("event: final", lines.readLine());
        assertEquals("id: 2", lines.readLine());
        assertEquals("last", json(lines.readLine().substring(6)).get("frames").get(0).get("text").asText());
        assertEquals("", lines.readLine());
        assertEquals(null, lines.readLine(), "the stream ends after the FINAL");
        response.checkBody();
    }

    @Test
    void ndjson_streamsOneObjectPerLine_live() throws Exception {
        start();
        Gate gate = new Gate();
        worker("gated", gate);
        OpenApiContract.Stream response = postStreaming("/services/gated", "go", "application/x-ndjson");
        assertEquals("application/x-ndjson", response.header("Content-Type"));
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
        JsonNode first = json(lines.readLine());
        assertEquals("partial", first.get("type").asText());
        assertEquals(1, first.get("seq").asInt());
        gate.release.countDown();
        JsonNode last = json(lines.readLine());
        assertEquals("final", last.get("type").asText());
        assertEquals(2, last.get("seq").asInt());
        assertEquals(null, lines.readLine());
        response.checkBody();
    }

    @Test
    void rawStream_flushesEachPartAsItArrives() throws Exception {
        start();
        Gate gate = new Gate();
        worker("gated", gate);
        OpenApiContract.Stream response = postStreaming("/services/gated", "go", "*/*");
        InputStream in = response.body();
        assertArrayEquals("first".getBytes(UTF_8), in.readNBytes(5));
        gate.release.countDown();
        assertArrayEquals("last".getBytes(UTF_8), in.readAllBytes());
        assertEquals("chunked", response.header("Transfer-Encoding"));
        response.checkBody();
    }

    // ---- deadlines -----------------------------------------------------------------------------

    @Test
    void noWorkerBeforeTheDeadline_is503WithRetryAfter() {
        start();
        HttpResponse<String> response = post("/services/nobody?timeout=200", "x");
        assertProblem(response, 503, "no-worker");
        assertEquals("1", response.headers().firstValue("Retry-After").orElse(""));
        assertEquals("nobody", json(response.body()).get("service").asText());
    }

    @Test
    void theCallersDeadline_governs_notTheBrokersShorterRequestExpiry() throws Exception {
        start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*")
                        .withRequestExpiry(Duration.ofMillis(300)))
                .withHttp("127.0.0.1", 0)
                .withDrainGrace(Duration.ofSeconds(2)));
        CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(
                () -> post("/services/late?timeout=5000", "x", "Accept", "text/event-stream"));
        Thread.sleep(1000); // three times the broker's expiry
        assertFalse(waiting.isDone(), "answered before the caller's deadline: " + (waiting.isDone() ? waiting.join().body() : ""));
        worker("late", (request, partials) -> Body.ofStrings("served"));
        HttpResponse<String> response = waiting.get(10, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode(), response.body());
        assertTrue(response.body().contains("served"), response.body());

        HttpResponse<String> expired = post("/services/nobody?timeout=400", "x");
        assertProblem(expired, 503, "no-worker");
        assertEquals("no worker for 'nobody' took the request within its deadline of 400 ms",
                json(expired.body()).get("detail").asText(), "the detail names the limit that ended it");
    }

    @Test
    void workerTookItButNoFinalInTime_is504_viaTheRequestTimeoutHeader() throws Exception {
        start();
        CountDownLatch release = new CountDownLatch(1);
        worker("slow", (request, partials) -> {
            release.await(10, TimeUnit.SECONDS);
            return Body.ofStrings("late");
        });
        HttpResponse<String> response = post("/services/slow", "x", "Request-Timeout", "300");
        release.countDown();
        assertProblem(response, 504, "deadline");
    }

    @Test
    void failureAfterTheFirstByte_isInBand() throws Exception {
        start();
        Gate gate = new Gate();
        worker("gated", gate);
        OpenApiContract.Stream sse = postStreaming("/services/gated?timeout=500", "go", "text/event-stream");
        assertEquals(200, sse.status());
        String text = new String(sse.body().readAllBytes(), UTF_8);
        sse.checkBody();
        assertTrue(text.contains("event: partial"), text);
        assertTrue(text.contains("event: error\ndata: {\"type\":\"error\",\"problem\":{"), text);
        assertTrue(text.contains("\"status\":504"), text);
        gate.release.countDown();

        Gate gate2 = new Gate();
        worker("gated2", gate2);
        OpenApiContract.Stream ndjson = postStreaming("/services/gated2?timeout=500", "go", "application/x-ndjson");
        String[] lines = new String(ndjson.body().readAllBytes(), UTF_8).split("\n");
        ndjson.checkBody();
        assertEquals(2, lines.length);
        assertEquals("error", json(lines[1]).get("type").asText());
        assertEquals(504, json(lines[1]).get("problem").get("status").asInt());
        gate2.release.countDown();
    }

    @Test
    void failureAfterTheFirstRawByte_cutsTheStreamOff() throws Exception {
        start();
        Gate gate = new Gate();
        worker("gated", gate);
        OpenApiContract.Stream raw = postStreaming("/services/gated?timeout=500", "go", "application/octet-stream");
        assertEquals(200, raw.status());
        InputStream in = raw.body();
        assertArrayEquals("first".getBytes(UTF_8), in.readNBytes(5));
        assertThrows(IOException.class, in::readAllBytes, "an incomplete chunked transfer, not a clean end");
        raw.checkBody();
        gate.release.countDown();
    }

    // ---- bad input -----------------------------------------------------------------------------

    @Test
    void badInput_gets4xxProblems() throws Exception {
        start(config().withMaxBodyBytes(1000));
        assertProblem(postBad("/services/echo?timeout=soon", "x"), 400, "bad-timeout");
        assertProblem(postBad("/services/echo?timeout=-5", "x"), 400, "bad-timeout");
        assertProblem(postBad("/services/echo", "x", "Request-Timeout", "0"), 400, "bad-timeout");
        assertProblem(postBad("/services/ec%0Aho", "x"), 400, "bad-service-name");
        assertProblem(postBad("/services/" + "s".repeat(256), "x"), 400, "bad-service-name");
        assertProblem(postBad("/services/echo", "{\"frames\":[{\"text\":1}]}", "Content-Type",
                "application/vnd.mdp.frames+json"), 400, "bad-frames");
        assertProblem(postBad("/services/echo", "not json", "Content-Type", "application/vnd.mdp.frames+json"),
                400, "bad-frames");
        assertProblem(postBad("/services/echo", "{\"frames\":[{\"base64\":\"!!\"}]}", "Content-Type",
                "application/vnd.mdp.frames+json"), 400, "bad-frames");
        assertProblem(post("/services/echo", "x".repeat(1001)), 413, "body-too-large");
        assertProblem(get("/no/such/route"), 404, "not-found");
        HttpResponse<String> wrongMethod = send(HttpRequest.newBuilder(uri("/services/echo"))
                .method("PUT", HttpRequest.BodyPublishers.noBody()).build(), null);
        assertProblem(wrongMethod, 405, "method-not-allowed");
        assertEquals("GET, HEAD, POST", wrongMethod.headers().firstValue("Allow").orElse(""));
        assertProblem(post("/services/", "x"), 400, "bad-service-name");
    }

    // ---- MMI, listing, health, metrics -----------------------------------------------------------

    @Test
    void getService_isTheBrokersMmiCheck() throws Exception {
        start();
        assertProblem(get("/services/echo"), 404, "no-such-service");
        worker("echo", (request, partials) -> request);
        HttpResponse<String> found = get("/services/echo");
        assertEquals(200, found.statusCode());
        assertEquals("{\"service\":\"echo\",\"available\":true,\"mmi\":\"200\"}", found.body());
        HttpResponse<String> mmi = get("/services/mmi.service");
        assertEquals(200, mmi.statusCode());
        assertEquals("{\"service\":\"mmi.service\",\"available\":true,\"mmi\":\"200\"}", mmi.body(),
                "available and the MMI code say the same thing");
        assertProblem(get("/services/mmi.nothing"), 501, "mmi-not-implemented");
        HttpResponse<String> head = send(HttpRequest.newBuilder(uri("/services/echo"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), null);
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        assertEquals(404, send(HttpRequest.newBuilder(uri("/services/none"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), null).statusCode());
    }

    @Test
    void servicesHealthAndMetrics_reportTheBrokersState() throws Exception {
        start();
        worker("echo", (request, partials) -> request);
        assertEquals(200, post("/services/echo", "x").statusCode());
        JsonNode services = json(get("/services").body()).get("services");
        JsonNode echo = services.get(0);
        assertEquals("echo", echo.get("name").asText());
        assertEquals(1, echo.get("workers").get("idle").asInt());
        assertEquals(1, echo.get("served").asInt());
        assertEquals(200, get("/health/live").statusCode());
        HttpResponse<String> ready = get("/health/ready");
        assertEquals(200, ready.statusCode());
        assertTrue(json(ready.body()).get("brokerEndpoints").get(0).asText().startsWith("tcp://"));
        HttpResponse<String> metrics = get("/metrics");
        assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        PrometheusText samples = PrometheusText.parse(metrics.body());
        assertTrue(samples.has(1, "mdpgw_requests_total", "service", "echo", "code", "200"), metrics.body());
        assertTrue(samples.has(1, "mdpgw_workers", "service", "echo", "state", "idle"), metrics.body());
        assertTrue(samples.has(1, "mdpgw_request_duration_seconds_count", "service", "echo"), metrics.body());
    }

    @Test
    void cors_allowsTheConfiguredOrigin_andExposesOurHeaders() {
        start(config().withCorsOrigins(List.of("https://app.example.com")));
        HttpResponse<String> preflight = send(HttpRequest.newBuilder(uri("/services/echo"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://app.example.com")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type,request-timeout").build(), null);
        assertEquals(200, preflight.statusCode());
        assertEquals("https://app.example.com",
                preflight.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
        String allowed = preflight.headers().firstValue("Access-Control-Allow-Headers").orElse("").toLowerCase();
        assertTrue(allowed.contains("content-type") && allowed.contains("request-timeout"), allowed);
        HttpResponse<String> response = post("/services/nobody?timeout=100", "x", "Origin", "https://app.example.com");
        assertEquals("https://app.example.com", response.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
        String exposed = response.headers().firstValue("Access-Control-Expose-Headers").orElse("");
        assertTrue(exposed.contains("X-Request-Id") && exposed.contains("Retry-After"), exposed);
        HttpResponse<String> other = post("/services/nobody?timeout=100", "x", "Origin", "https://evil.example");
        assertFalse(other.headers().firstValue("Access-Control-Allow-Origin").isPresent());
    }

    // ---- clients that leave, slow readers, draining -------------------------------------------------

    @Test
    void sseClientThatLeaves_isNoticedAtTheNextPing_andItsRequestCancelled() throws Exception {
        start(config().withPingInterval(Duration.ofMillis(100)));
        CountDownLatch release = new CountDownLatch(1);
        worker("hold", (request, partials) -> {
            release.await(10, TimeUnit.SECONDS);
            return Body.ofStrings("too late");
        });
        try (Socket socket = new Socket("127.0.0.1", gateway.httpPort())) {
            OpenApiContract.Stream response = rawPost(socket, "/services/hold", "x", "Accept", "text/event-stream");
            assertEquals("HTTP/1.1 200 OK", response.statusLine(), "the first ping commits the stream");
            assertTrue(response.header("Content-Type").startsWith("text/event-stream"));
        }
        long end = System.nanoTime() + WAIT.toNanos();
        while (!metrics().has(1, "mdpgw_clients_gone_total", "service", "hold") && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertTrue(metrics().has(1, "mdpgw_clients_gone_total", "service", "hold"));
        assertTrue(metrics().has(0, "mdpgw_inflight"));
        release.countDown();
    }

    @Test
    void slowReader_getsAnErrorInsteadOfGrowingMemory() throws Exception {
        start(config().withReplyBuffer(8, GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES));
        assertSlowReaderFails(64 * 1024, "more than 8 parts were waiting (--max-buffered-parts)");
    }

    @Test
    void slowReader_ofBigParts_isStoppedByTheByteBudget() throws Exception {
        start(config().withReplyBuffer(1_000_000, 1024 * 1024));
        assertSlowReaderFails(64 * 1024, "(--max-buffered-reply-bytes)");
    }

    private void assertSlowReaderFails(int partBytes, String detail) throws Exception {
        AtomicInteger sent = new AtomicInteger();
        byte[] chunk = new byte[partBytes];
        worker("flood", (request, partials) -> {
            for (int i = 0; i < 2000; i++) {
                partials.send(Body.of(chunk));
                sent.incrementAndGet();
            }
            return Body.ofStrings("end");
        });
        try (Socket socket = new Socket("127.0.0.1", gateway.httpPort())) {
            socket.setSoTimeout(10_000);
            OpenApiContract.Stream response = rawPost(socket, "/services/flood", "x", "Accept", "application/x-ndjson",
                    "Connection", "close");
            assertEquals(200, response.status());
            long end = System.nanoTime() + WAIT.toNanos();
            while (sent.get() < 2000 && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            // Now read everything: it must end with an error line, not all 2000 parts.
            socket.setSoTimeout(10_000);
            String all = new String(response.body().readAllBytes(), UTF_8);
            assertTrue(all.contains("\"type\":\"error\""), "no error line at the end");
            assertTrue(all.contains("slow-reader"), all.substring(Math.max(0, all.length() - 500)));
            assertTrue(all.contains(detail), all.substring(Math.max(0, all.length() - 500)));
            assertFalse(all.contains("\"type\":\"final\""));
            response.checkBody();
        }
    }

    @Test
    void requestsJettyRefusesItself_getProblemJsonToo() throws Exception {
        start();
        for (String[] c : new String[][] {
                {"POST /services/echo HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", "400", "bad-request"},
                {"GET /services/echo HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(64 * 1024) + "\r\n\r\n", "431",
                        "headers-too-large"}}) {
            try (Socket socket = new Socket("127.0.0.1", gateway.httpPort())) {
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write(c[0].getBytes(UTF_8));
                socket.getOutputStream().flush();
                String response = new String(socket.getInputStream().readAllBytes(), UTF_8);
                assertTrue(response.startsWith("HTTP/1.1 " + c[1]), response);
                assertTrue(response.toLowerCase(java.util.Locale.ROOT).contains("content-type: application/problem+json"),
                        response);
                String body = response.substring(response.indexOf("\r\n\r\n") + 4);
                assertEquals("urn:mdp-gateway:problem:" + c[2], json(body).get("type").asText(), body);
                assertEquals(Integer.parseInt(c[1]), json(body).get("status").asInt());
            }
        }
    }

    @Test
    void jsonReply_collectedOverTheByteBudget_is502_whileOneBigFinalAloneIsServed() throws Exception {
        start(config().withReplyBuffer(1024, 100_000));
        byte[] chunk = new byte[40_000];
        worker("parts", (request, partials) -> {
            for (int i = 0; i < 3; i++) {
                partials.send(Body.of(chunk));
                Thread.sleep(50); // a reader that keeps up holds one part at a time
            }
            return Body.ofStrings("end");
        });
        worker("big", (request, partials) -> Body.of(new byte[300_000]));
        HttpResponse<String> collected = post("/services/parts", "x", "Accept", "application/json");
        assertProblem(collected, 502, "reply-too-large");
        assertTrue(collected.body().contains("(--max-buffered-reply-bytes)"), collected.body());
        HttpResponse<String> streamed = post("/services/parts", "x", "Accept", "application/x-ndjson");
        assertEquals(200, streamed.statusCode());
        assertEquals(4, streamed.body().lines().count(), "three partials and the final, read as they came: "
                + streamed.body().substring(Math.max(0, streamed.body().length() - 400)));
        HttpResponse<String> big = post("/services/big", "x", "Accept", "application/json");
        assertEquals(200, big.statusCode(), big.body());
        assertEquals(1, json(big.body()).get("parts").size());
    }

    @Test
    void manySlowReaders_doNotStallOtherReplies() throws Exception {
        start(config().withReplyBuffer(8, GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES));
        int slowReaders = 24; // more than the gateway's writer threads
        byte[] chunk = new byte[64 * 1024];
        AtomicInteger floods = new AtomicInteger();
        for (int w = 0; w < slowReaders; w++) {
            closeables.add(MdpWorker.builder(gateway.localBrokerEndpoint(), "flood").start((request, partials) -> {
                floods.incrementAndGet();
                for (int i = 0; i < 200; i++) {
                    partials.send(Body.of(chunk));
                }
                return Body.ofStrings("end");
            }));
        }
        worker("echo", (request, partials) -> request);
        awaitService("flood");
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < slowReaders; i++) {
                Socket socket = new Socket();
                socket.setReceiveBufferSize(4096); // before connecting, so the window stays small
                socket.connect(new java.net.InetSocketAddress("127.0.0.1", gateway.httpPort()));
                sockets.add(socket);
                socket.getOutputStream().write(("POST /services/flood HTTP/1.1\r\nHost: x\r\n"
                        + "Accept: application/x-ndjson\r\nContent-Length: 1\r\n\r\nx").getBytes(UTF_8));
                socket.getOutputStream().flush(); // and never read
            }
            long end = System.nanoTime() + WAIT.toNanos();
            while (floods.get() < slowReaders && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            Thread.sleep(500); // let every flood fill its client's socket
            long started = System.nanoTime();
            HttpResponse<String> echo = post("/services/echo?timeout=5000", "still served");
            assertEquals(200, echo.statusCode(), echo.body());
            assertEquals("still served", echo.body());
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
        } finally {
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }

    @Test
    void close_drains_requestsInFlightFinish_requestsOnOpenConnectionsAreServed_andReadinessTurns503()
            throws Exception {
        start(config().withDrainGrace(Duration.ofSeconds(5)));
        worker("echo", (request, partials) -> request);
        Gate gate = new Gate();
        HeldReply response = heldReply(gate);
        // A keep-alive connection that served a request before the stop and now sits idle, as a
        // proxy keeps one.
        Socket idle = new Socket("127.0.0.1", gateway.httpPort());
        idle.setSoTimeout((int) WAIT.toMillis());
        servedLive(idle);
        // Two requests on their way when the gateway stops, their heads sent, the blank line not
        // yet: one on a new connection, one on a connection that has served a request (a proxy
        // reusing its most recent connection sends just so).
        Socket readiness = halfSent("GET", "/health/ready", null);
        Socket late = new Socket("127.0.0.1", gateway.httpPort());
        late.setSoTimeout((int) WAIT.toMillis());
        servedLive(late);
        halfSent(late, "POST", "/services/echo", "x");
        Thread closer = new Thread(gateway::close);
        closer.start();
        assertTrue(Await.until(gateway::isDraining, WAIT));
        // With no drain delay the port closes at once: a new connection is refused...
        assertTrue(Await.until(() -> !accepts(gateway.httpPort()), WAIT), "the port still accepts connections");
        // ...and what arrives on a connection opened before is served (its client had no word that
        // the connection was closing), on a connection then closed; readiness says 503.
        try (late) {
            OpenApiContract.Stream served = finish(late, "POST", "/services/echo", "x");
            assertEquals(200, served.status());
            assertEquals("close", served.header("Connection"));
            assertEquals("x", new String(served.body().readAllBytes(), UTF_8));
            served.checkBody();
        }
        assertProblem(finish(readiness, "GET", "/health/ready", null), 503, "not-ready");
        // The idle connection is closed by the gateway (Jetty's shutdown idle timeout), not kept.
        try (idle) {
            assertEquals(-1, idle.getInputStream().read(), "the idle connection was not closed");
        }
        assertTrue(closer.isAlive(), "the gateway stopped before its request in flight ended");
        gate.release.countDown();
        response.assertEndsWithFinal();
        closer.join(10_000);
        assertFalse(closer.isAlive());
    }

    /** Sends {@code GET /health/live} on {@code socket} and reads its whole response, leaving the connection open. */
    private static void servedLive(Socket socket) throws IOException {
        socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(UTF_8));
        socket.getOutputStream().flush();
        OpenApiContract.Stream live = CONTRACT.checkRawResponse("GET", "/health/live", Map.of(), null,
                socket.getInputStream());
        assertEquals(200, live.status());
        assertNotEquals("close", live.header("Connection"));
        String length = live.header("Content-Length");
        assertNotNull(length, "a response of known length");
        live.body().readNBytes(Integer.parseInt(length));
    }

    @Test
    void aSecondClose_returnsOnlyOnceTheFirstHasStoppedEverything() throws Exception {
        start(config().withDrainGrace(Duration.ofSeconds(5)));
        Gate gate = new Gate();
        HeldReply response = heldReply(gate);
        Thread first = new Thread(gateway::close);
        first.start();
        assertTrue(Await.until(gateway::isDraining, WAIT));
        Thread second = new Thread(gateway::close);
        second.start();
        assertTrue(Await.until(() -> second.getState() == Thread.State.WAITING, WAIT),
                "the second close did not wait: " + second.getState());
        assertTrue(first.isAlive(), "the drain ended with a request in flight");
        gate.release.countDown();
        response.assertEndsWithFinal();
        second.join(10_000);
        assertFalse(second.isAlive());
        assertFalse(accepts(gateway.httpPort()));
        assertEquals(List.of(), Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .map(Thread::getName).filter(n -> n.equals("mdp-broker")).toList(),
                "the broker's thread outlived the second close");
        first.join(10_000);
        assertFalse(first.isAlive());
    }

    @Test
    void drainDelay_servesAsBefore_whileReadinessIs503_thenRefusesConnections() throws Exception {
        // Long enough for two requests on new connections on a loaded machine; the wait for the port
        // to close below does not depend on it.
        start(config().withDrainDelay(Duration.ofSeconds(8)).withDrainGrace(Duration.ofSeconds(5)));
        worker("echo", (request, partials) -> request);
        Gate gate = new Gate();
        HeldReply inFlight = heldReply(gate);
        Thread closer = new Thread(gateway::close);
        closer.start();
        assertTrue(Await.until(gateway::isDraining, WAIT));
        // The delay: readiness 503, yet a new connection is accepted and its request served.
        int port = gateway.httpPort();
        assertProblem(onANewConnection(HttpRequest.newBuilder(uri("/health/ready")).GET().build(), null), 503,
                "not-ready");
        HttpResponse<String> echo = onANewConnection(postRequest("/services/echo", "during the delay"),
                "during the delay");
        assertEquals(200, echo.statusCode(), echo.body());
        assertEquals("during the delay", echo.body());
        assertFalse(echo.headers().firstValue("Connection").orElse("").equalsIgnoreCase("close"),
                "served as before, its connection kept: " + echo.headers().map());
        assertTrue(closer.isAlive());
        // Then the port closes while the request in flight still runs.
        assertTrue(Await.until(() -> !accepts(port), WAIT), "the port never stopped accepting");
        assertTrue(closer.isAlive(), "the gateway stopped before its request in flight ended");
        gate.release.countDown();
        inFlight.assertEndsWithFinal();
        closer.join(10_000);
        assertFalse(closer.isAlive());
    }

    @Test
    void close_countsAPostStillUploadingItsBody_thatBeganBeforeTheGatewayRefused() throws Exception {
        start(config().withDrainGrace(Duration.ofSeconds(2)));
        Gate gate = new Gate();
        worker("gated", gate);
        String body = "an upload that is slow";
        try (Socket upload = new Socket("127.0.0.1", gateway.httpPort())) {
            upload.setSoTimeout((int) WAIT.toMillis());
            OutputStream out = upload.getOutputStream();
            out.write(("POST /services/gated HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body.substring(0, 10)).getBytes(UTF_8));
            out.flush();
            assertTrue(Await.until(() -> gateway.openPosts() == 1, WAIT), "the handler never began reading the body");
            Thread closer = new Thread(gateway::close);
            closer.start();
            assertTrue(Await.until(() -> !accepts(gateway.httpPort()), WAIT), "the port still accepts connections");
            // The gateway refuses now, but this request was let in before: it is one of those the
            // grace is for, and like them its stream ends with an error event when the grace is over
            // (not cut by the server's stop, as one that close() did not count was).
            out.write(body.substring(10).getBytes(UTF_8));
            out.flush();
            OpenApiContract.Stream response = CONTRACT.checkRawResponse("POST", "/services/gated",
                    Map.of("Accept", List.of("application/x-ndjson"),
                            "Content-Length", List.of(String.valueOf(body.length()))),
                    body, upload.getInputStream());
            assertEquals(200, response.status());
            BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
            assertEquals("partial", json(lines.readLine()).get("type").asText());
            String last = lines.readLine();
            assertNotNull(last, "the stream was cut without its error event");
            JsonNode error = json(last);
            assertEquals("error", error.get("type").asText(), last);
            assertEquals("urn:mdp-gateway:problem:shutting-down", error.get("problem").get("type").asText());
            closer.join(15_000);
            assertFalse(closer.isAlive());
        } finally {
            gate.release.countDown();
        }
    }

    @Test
    void anInterruptDuringTheDrainDelay_doesNotCutTheGraceShort_andIsKeptForTheCloser() throws Exception {
        start(config().withDrainDelay(Duration.ofSeconds(1)).withDrainGrace(Duration.ofSeconds(10)));
        Gate gate = new Gate();
        HeldReply inFlight = heldReply(gate);
        java.util.concurrent.atomic.AtomicBoolean interruptedAfter = new java.util.concurrent.atomic.AtomicBoolean();
        Thread closer = new Thread(() -> {
            gateway.close();
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        closer.start();
        assertTrue(Await.until(gateway::isDraining, WAIT));
        closer.interrupt();
        assertTrue(Await.until(() -> !accepts(gateway.httpPort()), WAIT), "the port never stopped accepting");
        gate.release.countDown();
        inFlight.assertEndsWithFinal("the request in flight had its grace");
        closer.join(15_000);
        assertFalse(closer.isAlive());
        assertTrue(interruptedAfter.get(), "the interrupt is set again when close returns");
    }

    @Test
    void aNewDashboardStream_getsTheLastSnapshot_ratherThanMakingTheBrokerTakeOneMore() throws Exception {
        start();
        HttpRequest events = HttpRequest.newBuilder(uri("/dashboard/events")).header("Accept", "text/event-stream")
                .GET().build();
        // One stream stays open, so the dashboard keeps sampling once a period.
        HttpResponse<InputStream> open = http.send(events, HttpResponse.BodyHandlers.ofInputStream());
        closeables.add(() -> open.body().close());
        BufferedReader openLines = new BufferedReader(new InputStreamReader(open.body(), UTF_8));
        long firstSeq = nextSnapshotSeq(openLines);
        long began = System.nanoTime();
        long lastSeq = firstSeq;
        int streams = 20;
        for (int i = 0; i < streams; i++) {
            HttpResponse<InputStream> response = http.send(events, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8))) {
                assertEquals(200, response.statusCode());
                lastSeq = nextSnapshotSeq(lines);
            }
        }
        long periods = (System.nanoTime() - began) / GatewayConfig.DEFAULT_DASHBOARD_PERIOD.toNanos();
        // Each snapshot has its own seq; the streams opened add none of their own, only the periods
        // that passed meanwhile do (a period's own, and one on its way at the start).
        assertTrue(lastSeq - firstSeq <= periods + 2, "seq went from " + firstSeq + " to " + lastSeq + " in "
                + periods + " periods, for " + streams + " new streams");
    }

    @Test
    @org.junit.jupiter.api.Timeout(90)
    void dashboardPagesThatStopReading_holdNoThread_andRepliesAndOtherPagesGoOn() throws Exception {
        // A snapshot every 10 ms of many long-named services fills a page's socket within moments.
        start(config().withDashboardPeriod(Duration.ofMillis(10)));
        List<String> services = longNamedEchoServices();
        // More stalled pages than the gateway has writer threads: a page that had one waiting on its
        // socket would leave none for anybody else.
        for (int i = 0; i < Gateway.WRITER_THREADS + 4; i++) {
            stalledConnection("GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
        }
        Thread.sleep(2_000); // some hundred snapshots each, never read

        assertRepliesStillFlow(services);
        HttpRequest events = HttpRequest.newBuilder(uri("/dashboard/events")).timeout(Duration.ofSeconds(5)).GET()
                .build();
        HttpResponse<InputStream> reading = http.send(events, HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(reading.body(), UTF_8))) {
            long first = nextSnapshotSeq(lines);
            assertTrue(nextSnapshotSeq(lines) > first, "a page that reads goes on getting new snapshots");
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(90)
    void clientsThatStopReadingServicesAndMetrics_holdNoWriter_andRepliesGoOn() throws Exception {
        start();
        List<String> services = longNamedEchoServices();
        // Each connection pipelines requests whose answers, never read, fill its socket: the thread
        // writing them waits on it. That must not be one of the threads every reply needs.
        String pipelined = ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /services HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").repeat(40);
        for (int i = 0; i < Gateway.WRITER_THREADS + 4; i++) {
            stalledConnection(pipelined);
        }
        Thread.sleep(2_000);
        assertRepliesStillFlow(services);
        assertEquals(200, get("/services").statusCode());
    }

    /** 30 echo services whose names are long, so that each makes the dashboard's and /metrics' answers big. */
    private List<String> longNamedEchoServices() throws InterruptedException {
        List<String> services = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            String service = "stall-" + i + "-" + "x".repeat(200);
            worker(service, (request, partials) -> request);
            services.add(service);
        }
        return services;
    }

    /** A connection that sends {@code request} and never reads, with a small receive window. */
    private void stalledConnection(String request) throws IOException {
        Socket socket = new Socket();
        socket.setReceiveBufferSize(1024); // before connecting, so the window stays small
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", gateway.httpPort()));
        closeables.add(socket::close);
        socket.getOutputStream().write(request.getBytes(UTF_8));
    }

    private void assertRepliesStillFlow(List<String> services) throws Exception {
        for (int i = 0; i < 20; i++) {
            HttpRequest request = HttpRequest.newBuilder(uri("/services/" + services.get(i)))
                    .POST(HttpRequest.BodyPublishers.ofString("still served " + i)).timeout(Duration.ofSeconds(5))
                    .build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            assertEquals("still served " + i, response.body());
        }
    }

    /** The seq of the next snapshot event on a dashboard stream. */
    private static long nextSnapshotSeq(BufferedReader lines) throws IOException {
        for (String line; (line = lines.readLine()) != null; ) {
            if (line.startsWith("data: ")) {
                return json(line.substring(6)).get("seq").asLong();
            }
        }
        throw new AssertionError("the stream ended before a snapshot");
    }

    /** Sends {@code request} with a client of its own, so on a connection of its own; checked against the document. */
    private static HttpResponse<String> onANewConnection(HttpRequest request, String body) throws Exception {
        HttpResponse<String> response = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(WAIT).build().send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, body, response);
        return response;
    }

    /** A worker "gated" and an NDJSON request to it with its first PARTIAL read: a reply open until {@code gate} opens. */
    private HeldReply heldReply(Gate gate) throws Exception {
        worker("gated", gate);
        OpenApiContract.Stream response = postStreaming("/services/gated", "go", "application/x-ndjson");
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), UTF_8));
        assertEquals("partial", json(lines.readLine()).get("type").asText());
        return new HeldReply(response, lines);
    }

    private record HeldReply(OpenApiContract.Stream response, BufferedReader lines) {
        void assertEndsWithFinal() throws IOException {
            assertEndsWithFinal("the reply ends with its FINAL");
        }

        void assertEndsWithFinal(String message) throws IOException {
            assertEquals("final", json(lines.readLine()).get("type").asText(), message);
            response.checkBody();
        }
    }

    /** Whether a new TCP connection to {@code port} on loopback is accepted. */
    private static boolean accepts(int port) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException refused) {
            return false;
        }
    }

    /** A new connection with the head of a request written on it, all but the blank line that ends it. */
    private Socket halfSent(String method, String target, String body) throws IOException {
        return halfSent(new Socket("127.0.0.1", gateway.httpPort()), method, target, body);
    }

    private static Socket halfSent(Socket socket, String method, String target, String body) throws IOException {
        socket.setSoTimeout((int) WAIT.toMillis());
        String head = method + " " + target + " HTTP/1.1\r\nHost: x\r\n"
                + (body == null ? "" : "Content-Length: " + body.getBytes(UTF_8).length + "\r\n");
        socket.getOutputStream().write(head.getBytes(UTF_8));
        socket.getOutputStream().flush();
        return socket;
    }

    /** Ends the request {@link #halfSent} began and reads its response, head checked against the document. */
    private static OpenApiContract.Stream finish(Socket socket, String method, String target, String body)
            throws IOException {
        socket.getOutputStream().write(("\r\n" + (body == null ? "" : body)).getBytes(UTF_8));
        socket.getOutputStream().flush();
        return CONTRACT.checkRawResponse(method, target,
                body == null ? Map.of() : Map.of("Content-Length", List.of(String.valueOf(body.length()))), body,
                socket.getInputStream());
    }

    /** {@link #assertProblem(HttpResponse, int, String)} for a response read by hand; its connection closes after it. */
    private static void assertProblem(OpenApiContract.Stream response, int status, String slug) throws IOException {
        String body = new String(response.body().readAllBytes(), UTF_8); // to the end: the gateway closes the connection
        assertEquals(status, response.status(), body);
        assertEquals("application/problem+json", response.header("Content-Type"));
        assertEquals("close", response.header("Connection"), "after the port has closed");
        JsonNode problem = json(body);
        assertEquals("urn:mdp-gateway:problem:" + slug, problem.get("type").asText());
        assertEquals(status, problem.get("status").asInt());
        assertFalse(problem.get("title").asText().isEmpty());
        assertFalse(problem.get("detail").asText().isEmpty());
        assertEquals(response.header("X-Request-Id"), problem.get("instance").asText());
        response.checkBody();
    }

    @Test
    void aGatewayThatFailsToStart_leavesNothingRunning() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            GatewayConfig onATakenPort = config().withHttp("127.0.0.1", taken.getLocalPort());
            assertThrows(RuntimeException.class, () -> Gateway.start(onATakenPort));
        }
        long end = System.nanoTime() + WAIT.toNanos();
        List<String> left;
        do {
            Thread.sleep(50);
            left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(n -> n.equals("mdp-broker") || n.startsWith("mdp-gateway-")
                            || n.startsWith("JettyServerThreadPool")).toList();
        } while (!left.isEmpty() && System.nanoTime() < end);
        assertEquals(List.of(), left, "threads of the gateway that failed to start");
    }

    @Test
    void demoWorkers_canServeOtherBrokers_namedByHost() throws Exception {
        start(config()); // no workers of its own
        Gateway workersOnly = Gateway.start(config().withDemoWorkerBrokers(List.of(
                gateway.localBrokerEndpoint().replace("127.0.0.1", "localhost"))));
        closeables.add(workersOnly);
        awaitService("echo");
        HttpResponse<String> echoed = post("/services/echo", "served from elsewhere");
        assertEquals(200, echoed.statusCode());
        assertEquals("served from elsewhere", echoed.body());
    }

    @Test
    void theHttpListenBacklog_isTheConfiguredAcceptQueue() throws Exception {
        // The JVM's own default is 50, which a burst of connections overflows; the kernel reports the
        // backlog of a listening socket as its Send-Q (ss, from iproute2).
        start(config().withHttpAcceptQueue(333));
        Process ss = new ProcessBuilder("ss", "-Hltn", "sport = :" + gateway.httpPort()).redirectErrorStream(true)
                .start();
        String listening = new String(ss.getInputStream().readAllBytes(), UTF_8).strip();
        assertTrue(ss.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, ss.exitValue(), listening);
        assertEquals("333", listening.split("\\s+")[2], "Send-Q of " + listening);
    }

    @Test
    void manyConcurrentStreams_doNotTakeAThreadEach_andTheHttpPoolStaysWithinItsCap() throws Exception {
        int httpMaxThreads = 16;
        // Counted by name below: only this gateway's, should another one's still be on their way out.
        java.util.Set<Thread> otherHttpThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("JettyServerThreadPool"))
                .collect(java.util.stream.Collectors.toSet());
        start(config().withHttpMaxThreads(httpMaxThreads));
        CountDownLatch release = new CountDownLatch(1);
        for (int w = 0; w < 4; w++) {
            closeables.add(MdpWorker.builder(gateway.localBrokerEndpoint(), "wait").start((request, partials) -> {
                release.await(90, TimeUnit.SECONDS);
                return request;
            }));
        }
        awaitService("wait");
        // 300 streams: far more than the pool's 16 threads, and with both ends of each connection in this
        // JVM still inside a 1024-descriptor limit, which some CI machines keep.
        int requests = 300;
        int threadsBefore = Thread.activeCount();
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
        List<HttpRequest> sent = new ArrayList<>();
        // A fixed pool for the client's own work, so the threads counted below are the gateway's.
        java.util.concurrent.ExecutorService clientThreads = java.util.concurrent.Executors.newFixedThreadPool(4);
        closeables.add(() -> clientThreads.shutdownNow());
        HttpClient many = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(clientThreads).build();
        for (int i = 0; i < requests; i++) {
            sent.add(HttpRequest.newBuilder(uri("/services/wait?timeout=90000"))
                    .POST(HttpRequest.BodyPublishers.ofString("r" + i)).build());
            pending.add(many.sendAsync(sent.get(i), HttpResponse.BodyHandlers.ofString()));
        }
        // Hundreds of connections take a while to open on a busy machine; the property is what follows.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end && !metrics().has(requests, "mdpgw_inflight")
                && pending.stream().noneMatch(java.util.concurrent.CompletableFuture::isDone)) {
            Thread.sleep(50);
        }
        String early = pending.stream().filter(java.util.concurrent.CompletableFuture::isDone).findFirst()
                .map(f -> f.handle((r, e) -> e != null ? e.toString() : r.statusCode() + " " + r.body()).join())
                .orElse("none");
        assertEquals(requests, metrics().value("mdpgw_inflight").orElse(-1),
                "all requests waiting at once; the first one answered early: " + early);
        assertTrue(Thread.activeCount() - threadsBefore < requests / 3,
                "waiting requests hold no thread each: " + (Thread.activeCount() - threadsBefore) + " new threads for "
                        + requests + " requests");
        long httpThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("JettyServerThreadPool") && !otherHttpThreads.contains(t))
                .count();
        assertTrue(httpThreads > 0 && httpThreads <= httpMaxThreads,
                httpThreads + " HTTP threads, the cap is " + httpMaxThreads);
        release.countDown();
        for (int i = 0; i < requests; i++) {
            HttpResponse<String> r = pending.get(i).get(30, TimeUnit.SECONDS);
            CONTRACT.check(sent.get(i), "r" + i, r);
            assertEquals(200, r.statusCode());
            assertEquals("r" + i, r.body());
        }
        assertNotNull(many);
    }
}
