package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.ReplyHandler;
import org.mdpgateway.broker.RequestBroker;
import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.broker.RequestHandle;
import org.mdpgateway.broker.ServiceStats;
import org.mdpgateway.mdp.Body;

/**
 * The HTTP routes against a fake broker: no ZeroMQ, and the test decides what the "broker" answers
 * and when, so streaming, failures and availability are exact. Responses are checked against the
 * OpenAPI document.
 */
class HttpApiTest {
    private static final OpenApiContract CONTRACT = OpenApiContract.get();
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final FakeBroker broker = new FakeBroker();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ExecutorService writers = Executors.newFixedThreadPool(4);
    private Javalin app;

    /** One request the fake has been given, and the handler to answer it through. */
    record Submitted(String service, Body body, Duration timeout, ReplyHandler handler, AtomicBoolean cancelled) {}

    /** Records what it is given; replies only when the test says so. */
    static final class FakeBroker implements RequestBroker {
        final BlockingQueue<Submitted> submitted = new LinkedBlockingQueue<>();
        volatile boolean running = true;
        volatile List<ServiceStats> stats = List.of();

        @Override
        public RequestHandle submit(String service, Body body, Duration timeout, ReplyHandler handler) {
            Submitted s = new Submitted(service, body, timeout, handler, new AtomicBoolean());
            submitted.add(s);
            return () -> s.cancelled().set(true);
        }

        @Override
        public CompletableFuture<List<ServiceStats>> stats() {
            return CompletableFuture.completedFuture(stats);
        }

        @Override
        public boolean isRunning() {
            return running;
        }

        @Override
        public List<String> boundEndpoints() {
            return List.of("tcp://127.0.0.1:5555", "inproc://mdp-gateway-7");
        }

        Submitted next() throws InterruptedException {
            Submitted s = submitted.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(s, "the gateway submitted nothing");
            return s;
        }
    }

    @BeforeEach
    void start() {
        GatewayConfig config = GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(60));
        HttpApi api = new HttpApi(broker, config, new GatewayMetrics(), new ObjectMapper(), writers, writers,
                () -> false, () -> false, () -> false);
        app = Javalin.create(javalin -> {
            javalin.startup.showJavalinBanner = false;
            api.register(javalin);
        }).start("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        app.stop();
        writers.shutdownNow();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + app.port() + path);
    }

    private CompletableFuture<HttpResponse<String>> postAsync(String path, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        HttpRequest request = b.build();
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
            CONTRACT.check(request, body, r);
            return r;
        });
    }

    private HttpResponse<String> get(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).GET().build();
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, null, r);
        return r;
    }

    private static JsonNode json(String text) throws Exception {
        return new ObjectMapper().readTree(text);
    }

    @Test
    void post_submitsTheBodyWithTheCallersDeadline_andTheFinalIsTheResponse() throws Exception {
        CompletableFuture<HttpResponse<String>> response = postAsync("/services/echo?timeout=7000", "hello");
        Submitted s = broker.next();
        assertEquals("echo", s.service());
        assertEquals("hello", s.body().string(0));
        assertEquals(Duration.ofMillis(7000), s.timeout());
        s.handler().onFinal(Body.ofStrings("world"));
        HttpResponse<String> r = response.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(200, r.statusCode());
        assertEquals("world", r.body());
    }

    @Test
    void aDeadlineOverTheMaximum_isClampedToIt() throws Exception {
        postAsync("/services/echo?timeout=999999", "x");
        assertEquals(Duration.ofSeconds(60), broker.next().timeout());
    }

    @Test
    void ndjson_writesEachPartialBeforeTheNextExists() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri("/services/stream")).header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString("go")).build();
        CompletableFuture<HttpResponse<InputStream>> response = http.sendAsync(request,
                HttpResponse.BodyHandlers.ofInputStream());
        Submitted s = broker.next();
        s.handler().onPartial(Body.ofStrings("one"));
        HttpResponse<InputStream> r = response.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        OpenApiContract.Stream stream = CONTRACT.checkStream(request, "go", r);
        BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        JsonNode first = json(lines.readLine()); // read while the "worker" has sent nothing more
        assertEquals("partial", first.get("type").asText());
        assertEquals("one", first.get("frames").get(0).get("text").asText());
        s.handler().onPartial(Body.ofStrings("two"));
        assertEquals("two", json(lines.readLine()).get("frames").get(0).get("text").asText());
        s.handler().onFinal(Body.ofStrings("done"));
        JsonNode last = json(lines.readLine());
        assertEquals("final", last.get("type").asText());
        assertEquals(3, last.get("seq").asInt());
        assertNull(lines.readLine());
        stream.checkBody();
    }

    @Test
    void eachBrokerFailure_isItsStatusAndProblem() throws Exception {
        Map<RequestFailure.Reason, Object[]> expected = Map.of(
                RequestFailure.Reason.EXPIRED, new Object[] {503, "no-worker", true},
                RequestFailure.Reason.REFUSED, new Object[] {503, "queue-full", true},
                RequestFailure.Reason.DEADLINE, new Object[] {504, "deadline", false},
                RequestFailure.Reason.WORKER_LOST, new Object[] {502, "worker-lost", false},
                RequestFailure.Reason.BROKER_STOPPED, new Object[] {503, "shutting-down", true});
        for (Map.Entry<RequestFailure.Reason, Object[]> e : expected.entrySet()) {
            CompletableFuture<HttpResponse<String>> response = postAsync("/services/svc", "x");
            broker.next().handler().onFailure(new RequestFailure(e.getKey(), "because of " + e.getKey()));
            HttpResponse<String> r = response.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertEquals(e.getValue()[0], r.statusCode(), e.getKey() + ": " + r.body());
            assertEquals(Problem.MEDIA_TYPE, r.headers().firstValue("Content-Type").orElse(""));
            JsonNode problem = json(r.body());
            assertEquals("urn:mdp-gateway:problem:" + e.getValue()[1], problem.get("type").asText());
            assertEquals("because of " + e.getKey(), problem.get("detail").asText(), "the broker's detail is kept");
            assertEquals(e.getValue()[2], r.headers().firstValue("Retry-After").isPresent(), e.getKey() + " Retry-After");
        }
    }

    @Test
    void availability_asksMmiService_andMapsItsCode() throws Exception {
        for (String[] c : new String[][] {{"payments", "200", "200"}, {"payments", "404", "404"},
                {"mmi.nothing", "501", "501"}}) {
            CompletableFuture<HttpResponse<String>> response = CompletableFuture.supplyAsync(() -> {
                try {
                    return get("/services/" + c[0]);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Submitted s = broker.next();
            // 8/MMI: mmi.service is asked about a service; an mmi. name is asked of itself.
            assertEquals(c[0].startsWith("mmi.") ? c[0] : "mmi.service", s.service());
            assertEquals(c[0], s.body().string(0));
            s.handler().onFinal(Body.ofStrings(c[1]));
            assertEquals(Integer.parseInt(c[2]), response.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode(),
                    c[0] + " with mmi code " + c[1]);
        }
    }

    @Test
    void readiness_followsTheBroker_andListsOnlyEndpointsPeersCanReach() throws Exception {
        HttpResponse<String> ready = get("/health/ready");
        assertEquals(200, ready.statusCode());
        assertEquals("[\"tcp://127.0.0.1:5555\"]", json(ready.body()).get("brokerEndpoints").toString());
        broker.running = false;
        HttpResponse<String> notReady = get("/health/ready");
        assertEquals(503, notReady.statusCode());
        assertEquals("urn:mdp-gateway:problem:not-ready", json(notReady.body()).get("type").asText());
    }

    @Test
    void aClientThatLeaves_cancelsItsRequest() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri("/services/stream")).header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString("go")).build();
        CompletableFuture<HttpResponse<InputStream>> response = http.sendAsync(request,
                HttpResponse.BodyHandlers.ofInputStream());
        Submitted s = broker.next();
        s.handler().onPartial(Body.ofStrings("one"));
        InputStream body = response.get(WAIT.toSeconds(), TimeUnit.SECONDS).body();
        assertTrue(body.read() >= 0);
        body.close();
        long end = System.nanoTime() + WAIT.toNanos();
        // The gateway learns the client left when a write fails: keep the "worker" talking.
        while (!s.cancelled().get() && System.nanoTime() < end) {
            s.handler().onPartial(Body.of(new byte[16 * 1024]));
            Thread.sleep(20);
        }
        assertTrue(s.cancelled().get(), "the request was not cancelled after its client left");
    }
}
