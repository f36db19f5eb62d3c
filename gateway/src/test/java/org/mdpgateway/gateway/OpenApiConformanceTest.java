package org.mdpgateway.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.emptyString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.javalin.Javalin;
import io.javalin.http.HandlerType;
import io.javalin.router.ParsedEndpoint;
import io.restassured.RestAssured;
import io.restassured.config.EncoderConfig;
import io.restassured.config.RestAssuredConfig;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.Broker;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.openapi.OpenApiDocument;

/**
 * Every kind of response the gateway gives, each checked against the OpenAPI document by
 * {@link OpenApiContract}; and the document's routes against the gateway's.
 */
class OpenApiConformanceTest {
    private static final long MAX_BODY = 64 * 1024;
    private static final OpenApiContract contract = OpenApiContract.get();
    private static Gateway gateway;
    private static MdpWorker slow;

    @BeforeAll
    static void start() {
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0).withDemoWorkers(true).withMaxBodyBytes(MAX_BODY));
        // A worker that takes its time, for 504.
        slow = MdpWorker.builder(gateway.localBrokerEndpoint(), "slow").start((request, partials) -> {
            Thread.sleep(1500);
            return request;
        });
        RestAssured.port = gateway.httpPort();
        RestAssured.baseURI = "http://127.0.0.1";
        // Bodies as given: no charset appended to the frames envelope's media type.
        RestAssured.config = RestAssuredConfig.config().encoderConfig(
                EncoderConfig.encoderConfig().appendDefaultContentCharsetToContentTypeIfUndefined(false));
        awaitWorker("echo");
        awaitWorker("count");
        awaitWorker("slow");
    }

    @AfterAll
    static void stop() {
        if (slow != null) {
            slow.close();
        }
        if (gateway != null) {
            gateway.close();
        }
        RestAssured.reset();
    }

    private static void awaitWorker(String service) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (given().get("/services/" + service).statusCode() != 200) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no worker for " + service);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static RequestSpecification valid() {
        return given().filter(contract.validate());
    }

    private static RequestSpecification responseValid() {
        return given().filter(contract.validateResponse());
    }

    // ---- POST /services/{name} -------------------------------------------------------------------

    @Test
    void postRawEchoesTheBytes() {
        byte[] body = {0, 1, 2, (byte) 0xff, 'h', 'i'};
        Response r = valid().contentType("application/octet-stream").body(body)
                .post("/services/echo").then().statusCode(200)
                .contentType("application/octet-stream")
                .header(HttpApi.REQUEST_ID, notNullValue())
                .extract().response();
        assertArrayEquals(body, r.asByteArray());
    }

    @Test
    void postTextWithoutAcceptIsRawToo() {
        valid().contentType("text/plain").body("hello").post("/services/echo")
                .then().statusCode(200).contentType("application/octet-stream").body(equalTo("hello"));
    }

    @Test
    void postFramesEnvelopeForJson() {
        valid().contentType(HttpApi.FRAMES_JSON).accept("application/json")
                .body("{\"frames\":[{\"text\":\"a\"},{\"base64\":\"/w==\"}]}")
                .post("/services/echo").then().statusCode(200).contentType("application/json")
                .body("service", equalTo("echo"))
                .body("parts[0].type", equalTo("final"))
                .body("parts[0].seq", equalTo(1))
                .body("parts[0].frames[0].text", equalTo("a"))
                .body("parts[0].frames[1].base64", equalTo("/w=="));
    }

    @Test
    void postForJsonCollectsPartials() {
        valid().accept("application/json").contentType("text/plain").body("2")
                .post("/services/count").then().statusCode(200)
                .body("parts.type", equalTo(java.util.List.of("partial", "partial", "final")))
                .body("parts.seq", equalTo(java.util.List.of(1, 2, 3)));
    }

    @Test
    void postForNdjsonStreamsItems() {
        String body = valid().accept("application/x-ndjson").contentType("text/plain").body("2")
                .post("/services/count").then().statusCode(200).contentType("application/x-ndjson")
                .header("Cache-Control", "no-cache").extract().asString();
        String[] lines = body.split("\n");
        assertEquals(3, lines.length, body);
        assertTrue(lines[2].contains("\"type\":\"final\""), body);
    }

    @Test
    void postForSseStreamsEvents() {
        String body = valid().accept("text/event-stream").contentType("text/plain").body("2")
                .post("/services/count").then().statusCode(200).contentType(startsWith("text/event-stream"))
                .extract().asString();
        assertTrue(body.startsWith("event: partial\nid: 1\ndata: "), body);
        assertTrue(body.contains("event: final\nid: 3\n"), body);
    }

    @Test
    void deadlineAfterTheFirstLineIsAnInBandErrorItem() {
        String body = valid().accept("application/x-ndjson").queryParam("timeout", 100).contentType("text/plain")
                .body("3").post("/services/count").then().statusCode(200).extract().asString();
        assertTrue(body.contains("\"type\":\"error\"") && body.contains("urn:mdp-gateway:problem:deadline"), body);
    }

    @Test
    void badTimeoutIs400() {
        responseValid().queryParam("timeout", "abc").contentType("text/plain").body("x")
                .post("/services/echo").then().statusCode(400).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:bad-timeout"))
                .body("service", equalTo("echo"));
        responseValid().header("Request-Timeout", "-5").contentType("text/plain").body("x")
                .post("/services/echo").then().statusCode(400)
                .body("type", equalTo("urn:mdp-gateway:problem:bad-timeout"));
    }

    @Test
    void theDocumentRejectsABadTimeoutToo() {
        // The strict filter fails a request the document does not allow: the lint is not toothless.
        assertThrows(AssertionError.class, () -> valid().queryParam("timeout", "abc").contentType("text/plain")
                .body("x").post("/services/echo"));
    }

    @Test
    void badEnvelopeIs400() {
        responseValid().contentType(HttpApi.FRAMES_JSON).body("{\"frames\":3}")
                .post("/services/echo").then().statusCode(400).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:bad-frames"));
        responseValid().contentType(HttpApi.FRAMES_JSON).body("{not json")
                .post("/services/echo").then().statusCode(400)
                .body("type", equalTo("urn:mdp-gateway:problem:bad-frames"));
    }

    @Test
    void badServiceNameIs400() {
        responseValid().urlEncodingEnabled(false).contentType("text/plain").body("x")
                .post("/services/a%01b").then().statusCode(400)
                .body("type", equalTo("urn:mdp-gateway:problem:bad-service-name"));
    }

    @Test
    void bodyOverTheLimitIs413() {
        valid().contentType("application/octet-stream").body(new byte[(int) MAX_BODY + 1])
                .post("/services/echo").then().statusCode(413).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:body-too-large"));
    }

    @Test
    void noWorkerIs503WithRetryAfter() {
        valid().queryParam("timeout", 200).contentType("text/plain").body("x")
                .post("/services/nobody").then().statusCode(503).contentType(Problem.MEDIA_TYPE)
                .header("Retry-After", "1")
                .body("type", equalTo("urn:mdp-gateway:problem:no-worker"))
                .body("service", equalTo("nobody"));
    }

    @Test
    void noFinalInTimeIs504() {
        valid().queryParam("timeout", 300).accept("application/json").contentType("text/plain").body("x")
                .post("/services/slow").then().statusCode(504).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:deadline"));
    }

    @Test
    void requestIdIsEchoedAndIsTheProblemInstance() {
        valid().header(HttpApi.REQUEST_ID, "req-42").queryParam("timeout", 100).contentType("text/plain").body("x")
                .post("/services/nobody").then().statusCode(503)
                .header(HttpApi.REQUEST_ID, "req-42").body("instance", equalTo("req-42"));
    }

    // ---- GET/HEAD /services/{name}, GET /services ------------------------------------------------

    @Test
    void getServiceIsTheMmiCheck() {
        valid().get("/services/echo").then().statusCode(200).contentType("application/json")
                .body("service", equalTo("echo")).body("available", equalTo(true));
        valid().get("/services/nobody").then().statusCode(404).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:no-such-service"))
                .body("available", equalTo(false));
        valid().get("/services/mmi.service").then().statusCode(200);
        valid().get("/services/mmi.nothing").then().statusCode(501).contentType(Problem.MEDIA_TYPE)
                .body("type", equalTo("urn:mdp-gateway:problem:mmi-not-implemented"));
    }

    @Test
    void headServiceHasNoBody() {
        valid().head("/services/echo").then().statusCode(200).body(emptyString());
        valid().head("/services/nobody").then().statusCode(404).body(emptyString());
        valid().head("/services/mmi.nothing").then().statusCode(501);
    }

    @Test
    void listServices() {
        valid().get("/services").then().statusCode(200).contentType("application/json")
                .body("services.name", hasItem("echo"));
    }

    // ---- health, metrics ---------------------------------------------------------------------------

    @Test
    void health() {
        valid().get("/health/live").then().statusCode(200).body("status", equalTo("up"));
        valid().get("/health/ready").then().statusCode(200).body("status", equalTo("ready"));
    }

    @Test
    void metrics() {
        valid().get("/metrics").then().statusCode(200).contentType(startsWith("text/plain"))
                .body(containsString("mdpgw_requests_total"));
    }

    // ---- unknown routes and methods ----------------------------------------------------------------

    @Test
    void unknownRouteIs404Problem() {
        valid().get("/nope").then().statusCode(404)
                .body("type", equalTo("urn:mdp-gateway:problem:not-found"));
        valid().contentType("text/plain").body("x").post("/nope/deeper").then().statusCode(404);
    }

    @Test
    void wrongMethodIs405Problem() {
        valid().delete("/services/echo").then().statusCode(405)
                .body("type", equalTo("urn:mdp-gateway:problem:method-not-allowed"));
        valid().put("/health/live").then().statusCode(405);
        valid().contentType("text/plain").body("x").post("/openapi.yaml").then().statusCode(405);
    }

    // ---- the documentation -------------------------------------------------------------------------

    @Test
    void openApiYamlIsTheDocument() {
        byte[] served = valid().get("/openapi.yaml").then().statusCode(200)
                .contentType(startsWith(DocsRoutes.YAML_MEDIA_TYPE)).extract().asByteArray();
        assertArrayEquals(OpenApiDocument.yaml(), served);
    }

    @Test
    void openApiJsonIsTheSameDocument() throws Exception {
        String served = valid().get("/openapi.json").then().statusCode(200).contentType("application/json")
                .extract().asString();
        assertEquals(new YAMLMapper().readTree(OpenApiDocument.yaml()), new ObjectMapper().readTree(served));
    }

    @Test
    void docsServesSwaggerUiOffline() {
        String page = valid().get("/docs").then().statusCode(200).contentType(startsWith("text/html"))
                .extract().asString();
        assertTrue(page.contains("url: '/openapi.yaml'"), page);
        assertTrue(page.contains("validatorUrl: null"), page);
        assertFalse(page.contains("http://") || page.contains("https://"), "no other host: " + page);
        for (String asset : new String[] {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css",
                "favicon-32x32.png", "favicon-16x16.png"}) {
            assertTrue(page.contains("/docs/" + asset), asset);
        }
        String etag = valid().get("/docs/swagger-ui-bundle.js").then().statusCode(200)
                .contentType(startsWith("text/javascript")).body(containsString("SwaggerUIBundle"))
                .header("ETag", notNullValue()).extract().header("ETag");
        valid().get("/docs/swagger-ui.css").then().statusCode(200).contentType(startsWith("text/css"));
        valid().get("/docs/swagger-ui-standalone-preset.js").then().statusCode(200);
        valid().get("/docs/favicon-32x32.png").then().statusCode(200).contentType("image/png");
        valid().header("If-None-Match", etag).get("/docs/swagger-ui.css").then().statusCode(304);
        valid().get("/docs/swagger-initializer.js").then().statusCode(404);
        valid().get("/docs/index.html").then().statusCode(404);
        valid().get("/docs/nothing.js").then().statusCode(404);
        assertTrue(etag.contains(new DocsRoutes(new ObjectMapper()).swaggerUiVersion()), etag);
    }

    @Test
    void dashboardIsOnePageFromThisGateway() {
        String page = valid().get("/dashboard").then().statusCode(200).contentType(startsWith("text/html"))
                .extract().asString();
        assertTrue(page.contains("/dashboard/events"), "the page reads the events stream");
        assertFalse(page.matches("(?s).*(src|href)=\"(https?:)?//.*"), "no script, style or link from another host");
    }

    @Test
    void dashboardEventsAreSnapshotsOfTheDocumentedShape() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.httpPort()
                + "/dashboard/events")).header("Accept", "text/event-stream").GET().build();
        HttpResponse<InputStream> response = HttpClient.newHttpClient().send(request,
                HttpResponse.BodyHandlers.ofInputStream());
        OpenApiContract.Stream stream = contract.checkStream(request, null, response);
        assertEquals(200, stream.status());
        assertEquals("no-cache", stream.header("Cache-Control"));
        int snapshots = 0;
        List<String> seen = new ArrayList<>();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
            for (String line; snapshots < 2 && (line = lines.readLine()) != null; ) {
                seen.add(line);
                if (line.equals("event: snapshot")) {
                    snapshots++;
                }
            }
            for (String line; (line = lines.readLine()) != null && !line.isEmpty(); ) {
                seen.add(line); // the rest of the second event
            }
        }
        stream.checkBody();
        assertEquals("retry: 2000", seen.get(0), seen.toString());
        String services = String.join("\n", seen);
        assertTrue(services.contains("\"name\":\"echo\"") && services.contains("\"workerList\":[{"), services);
    }

    @Test
    void rootRedirectsToDocs() {
        valid().redirects().follow(false).get("/").then().statusCode(302).header("Location", "/docs");
    }

    @Test
    void undocumentedResponsesFail() {
        // The oracle itself: a status the document does not list for an operation fails.
        assertThrows(AssertionError.class, () -> given().filter(contract.validate())
                .filter((req, res, ctx) -> new io.restassured.builder.ResponseBuilder()
                        .clone(ctx.next(req, res)).setStatusCode(418).build())
                .get("/health/live"));
        // So does a header it does not declare.
        assertThrows(AssertionError.class, () -> given().filter(contract.validate())
                .filter((req, res, ctx) -> new io.restassured.builder.ResponseBuilder()
                        .clone(ctx.next(req, res)).setHeader("X-Surprise", "1").build())
                .get("/health/live"));
    }

    // ---- routes: the document and the gateway list the same ones -----------------------------------

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedRouteExists() {
        Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"));
        ExecutorService writers = Executors.newSingleThreadExecutor();
        try {
            GatewayConfig config = GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"));
            HttpApi api = new HttpApi(broker, config, new GatewayMetrics(), new ObjectMapper(), writers, writers,
                () -> false, () -> false, () -> false);
            Javalin app = Javalin.create(api::register);
            Set<String> routes = new TreeSet<>();
            for (ParsedEndpoint endpoint : app.unsafe.internalRouter.allHttpHandlers()) {
                HandlerType method = endpoint.endpoint.method;
                if (method.isHttpMethod()) {
                    routes.add(method.name() + " " + endpoint.endpoint.path.replaceAll("<([^>]+)>", "{$1}"));
                }
            }
            assertFalse(routes.isEmpty(), "the router lists routes");
            // OPTIONS is the CORS preflight, answered by Javalin's CorsPlugin (with --cors-origin), not a route.
            Set<String> documented = new TreeSet<>(contract.operations());
            assertTrue(documented.contains("OPTIONS /services/{name}"), "the preflight is documented");
            documented.removeIf(operation -> operation.startsWith("OPTIONS "));
            routes.removeIf(operation -> operation.startsWith("OPTIONS "));
            Set<String> undocumented = new TreeSet<>(routes);
            undocumented.removeAll(documented);
            Set<String> missing = new TreeSet<>(documented);
            missing.removeAll(routes);
            assertEquals(Set.of(), undocumented, "routes the gateway has but the OpenAPI document lacks");
            assertEquals(Set.of(), missing, "operations the OpenAPI document lists but the gateway lacks");
        } finally {
            writers.shutdownNow();
            broker.close();
        }
    }

    @Test
    void documentedPathsMatchTheirTemplates() {
        assertEquals("/services/{name}", contract.template("/services/echo"));
        assertEquals("/services", contract.template("/services"));
        assertEquals("/docs/{asset}", contract.template("/docs/swagger-ui.css"));
        assertEquals("/", contract.template("/"));
        assertEquals(null, contract.template("/nope"));
        JsonNode problem = contract.document().at("/components/schemas/Problem/required");
        assertThat(problem.toString(), not(emptyString()));
    }

    private static <T> void assertThat(T actual, org.hamcrest.Matcher<? super T> matcher) {
        org.hamcrest.MatcherAssert.assertThat(actual, matcher);
    }
}
