package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.PlainJWT;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.testing.Await;

/**
 * Credentials over real HTTP: API keys and HS256 JWTs on one gateway (with the demo services echo and
 * count and a CORS origin), RS256 JWTs from a JWK Set and the public-route flags on others. Every
 * exchange is checked against the OpenAPI document.
 */
class HttpAuthIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OpenApiContract CONTRACT = OpenApiContract.get();
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** Requests are built before the port is known; {@link #send} puts the gateway's in. */
    private static final String PLACEHOLDER = "http://gateway.invalid";
    private static final String ORIGIN = "https://app.example.com";
    private static final String CHALLENGE = "Bearer realm=\"mdp-gateway\"";
    private static final String INVALID_TOKEN = CHALLENGE + ", error=\"invalid_token\"";
    private static final String ECHO_KEY = randomHex(32);
    private static final String ALL_KEY = randomHex(32);
    private static final String PAYMENTS_KEY = randomHex(32);
    private static final byte[] SECRET = randomHex(32).getBytes(StandardCharsets.US_ASCII);

    @TempDir
    static Path dir;
    private static Gateway gateway;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(WAIT).build();
    private Gateway other;

    @BeforeAll
    static void start() throws Exception {
        Path keys = TestCredentials.write(dir.resolve("api-keys"), "# clients of the test gateway\n\n"
                + TestCredentials.keyLine(ECHO_KEY, "echo") + "   # the echo client\n"
                + TestCredentials.keyLine(ALL_KEY, "echo,count") + "\n"
                + "  " + TestCredentials.keyLine(PAYMENTS_KEY, "payments.*") + "\n");
        Path secret = dir.resolve("jwt-secret");
        java.nio.file.Files.write(secret, SECRET);
        gateway = Gateway.start(config().withCorsOrigins(List.of(ORIGIN)).withAccess(
                AccessPolicy.OPEN.withApiKeys(ApiKeys.load(keys)).withJwt(JwtVerifier.hs256(secret))));
        for (String service : List.of("echo", "count")) {
            assertTrue(Await.until(() -> send(gateway, get("/services/" + service).header("X-Api-Key", ALL_KEY))
                    .statusCode() == 200, WAIT), service + " never registered");
        }
    }

    @AfterAll
    static void stopAll() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @AfterEach
    void stopOther() {
        if (other != null) {
            other.close();
        }
    }

    private static GatewayConfig config() {
        return GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*")).withHttp("127.0.0.1", 0)
                .withDemoWorkers(true).withDrainGrace(Duration.ofMillis(200));
    }

    // ---- 401 -----------------------------------------------------------------------------------

    @Test
    void noCredential_is401_withTheBareChallenge_onEveryServiceRoute() {
        HttpResponse<String> post = send(gateway, post("/services/echo", "hi").header("X-Request-Id", "auth-none-1"));
        assertUnauthorized(post, CHALLENGE);
        assertEquals("auth-none-1", json(post).get("instance").asText(), "the problem names the request id");
        assertUnauthorized(send(gateway, get("/services/echo")), CHALLENGE);
        assertUnauthorized(send(gateway, get("/services")), CHALLENGE);
        assertUnauthorized(send(gateway, post("/services", "x")), CHALLENGE);
        HttpResponse<String> head = send(gateway, HttpRequest.newBuilder(uri(gateway, "/services/echo"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(401, head.statusCode());
        assertEquals(CHALLENGE, head.headers().firstValue("WWW-Authenticate").orElse(null));
        // A scheme other than Bearer is no credential of ours.
        assertUnauthorized(send(gateway, post("/services/echo", "hi").header("Authorization", "Basic dXNlcjpwYXNz")),
                CHALLENGE);
    }

    @Test
    void unknownKey_is401_invalidToken_inEitherHeader() {
        String wrong = randomHex(32);
        assertUnauthorized(send(gateway, post("/services/echo", "hi").header("X-Api-Key", wrong)), INVALID_TOKEN);
        HttpResponse<String> bearer = send(gateway, post("/services/echo", "hi").header("Authorization", "Bearer " + wrong));
        assertUnauthorized(bearer, INVALID_TOKEN);
        assertEquals("unknown API key", json(bearer).get("detail").asText());
        assertTrue(!bearer.body().contains(wrong), "the credential is not echoed");
        assertUnauthorized(send(gateway, post("/services/echo", "hi").header("Authorization", "Bearer")), INVALID_TOKEN);
    }

    @Test
    void badJwts_are401_invalidToken() throws Exception {
        List<String> echo = List.of("echo");
        String wrongSecret = TestCredentials.hs256(randomHex(32).getBytes(StandardCharsets.US_ASCII),
                TestCredentials.claims(echo));
        assertEquals("the token's signature does not verify", json(assertUnauthorized(
                send(gateway, bearer("/services/echo", wrongSecret)), INVALID_TOKEN)).get("detail").asText());
        String expired = TestCredentials.hs256(SECRET, TestCredentials.claims(echo,
                Instant.now().minus(Duration.ofHours(2)), Instant.now().minus(Duration.ofMinutes(10))));
        assertTrue(json(assertUnauthorized(send(gateway, bearer("/services/echo", expired)), INVALID_TOKEN))
                .get("detail").asText().contains("Expired"));
        String early = TestCredentials.hs256(SECRET, TestCredentials.claims(echo,
                Instant.now().plus(Duration.ofMinutes(10)), Instant.now().plus(Duration.ofHours(1))));
        assertTrue(json(assertUnauthorized(send(gateway, bearer("/services/echo", early)), INVALID_TOKEN))
                .get("detail").asText().contains("before use time"));
        String noExp = TestCredentials.hs256(SECRET, new com.nimbusds.jwt.JWTClaimsSet.Builder()
                .claim(JwtVerifier.SERVICES_CLAIM, echo).build());
        assertUnauthorized(send(gateway, bearer("/services/echo", noExp)), INVALID_TOKEN);
        String unsigned = new PlainJWT(TestCredentials.claims(echo)).serialize();
        assertUnauthorized(send(gateway, bearer("/services/echo", unsigned)), INVALID_TOKEN);
        String[] parts = TestCredentials.hs256(SECRET, TestCredentials.claims(echo)).split("\\.");
        String tampered = parts[0] + "." + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                ("{\"mdp_services\":[\"*\"],\"exp\":" + (Instant.now().getEpochSecond() + 3600) + "}")
                        .getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        assertUnauthorized(send(gateway, bearer("/services/echo", tampered)), INVALID_TOKEN);
        String badScope = TestCredentials.hs256(SECRET, new com.nimbusds.jwt.JWTClaimsSet.Builder()
                .expirationTime(java.util.Date.from(Instant.now().plusSeconds(600)))
                .claim(JwtVerifier.SERVICES_CLAIM, "echo").build());
        assertUnauthorized(send(gateway, bearer("/services/echo", badScope)), INVALID_TOKEN);
        assertUnauthorized(send(gateway, bearer("/services/echo", "not.a.jwt")), INVALID_TOKEN);
    }

    // ---- 403 -----------------------------------------------------------------------------------

    @Test
    void goodCredential_forAnotherService_is403() throws Exception {
        assertForbidden(send(gateway, post("/services/echo", "hi").header("X-Api-Key", PAYMENTS_KEY)), "echo");
        assertForbidden(send(gateway, get("/services/count").header("Authorization", "Bearer " + ECHO_KEY)), "count");
        String payments = TestCredentials.hs256(SECRET, TestCredentials.claims(List.of("payments.*")));
        assertForbidden(send(gateway, bearer("/services/echo", payments)), "echo");
        String none = TestCredentials.hs256(SECRET, new com.nimbusds.jwt.JWTClaimsSet.Builder()
                .expirationTime(java.util.Date.from(Instant.now().plusSeconds(600))).build());
        assertForbidden(send(gateway, bearer("/services/echo", none)), "echo");
        HttpResponse<String> head = send(gateway, HttpRequest.newBuilder(uri(gateway, "/services/echo"))
                .header("X-Api-Key", PAYMENTS_KEY).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(403, head.statusCode());
    }

    // ---- 200 -----------------------------------------------------------------------------------

    @Test
    void goodCredentials_reachTheService() throws Exception {
        HttpResponse<String> viaBearer = send(gateway, post("/services/echo", "one")
                .header("Authorization", "Bearer " + ECHO_KEY));
        assertEquals(200, viaBearer.statusCode(), viaBearer.body());
        assertEquals("one", viaBearer.body());
        HttpResponse<String> viaHeader = send(gateway, post("/services/echo", "two").header("X-Api-Key", ECHO_KEY));
        assertEquals(200, viaHeader.statusCode(), viaHeader.body());
        assertEquals("two", viaHeader.body());
        HttpResponse<String> lowerCaseScheme = send(gateway, post("/services/echo", "three")
                .header("Authorization", "bearer " + ECHO_KEY));
        assertEquals(200, lowerCaseScheme.statusCode(), "RFC 9110 §11.1: the scheme is case-insensitive");
        String jwt = TestCredentials.hs256(SECRET, TestCredentials.claims(List.of("ech?", "payments.*")));
        HttpResponse<String> viaJwt = send(gateway, bearer("/services/echo", jwt));
        assertEquals(200, viaJwt.statusCode(), viaJwt.body());
        HttpResponse<String> check = send(gateway, get("/services/echo").header("Authorization", "Bearer " + jwt));
        assertEquals(200, check.statusCode(), check.body());
        HttpResponse<String> stream = send(gateway, post("/services/count", "2").header("Accept", "application/x-ndjson")
                .header("X-Api-Key", ALL_KEY));
        assertEquals(200, stream.statusCode(), stream.body());
        assertEquals(2, stream.body().lines().filter(l -> l.contains("\"partial\"")).count(), stream.body());
    }

    @Test
    void listServices_showsOnlyWhatTheCredentialCovers() throws Exception {
        assertEquals(Set.of("echo"), listed(get("/services").header("X-Api-Key", ECHO_KEY)));
        assertEquals(Set.of("echo", "count"), listed(get("/services").header("X-Api-Key", ALL_KEY)));
        assertEquals(Set.of(), listed(get("/services").header("X-Api-Key", PAYMENTS_KEY)));
        String jwt = TestCredentials.hs256(SECRET, TestCredentials.claims(List.of("c*")));
        assertEquals(Set.of("count"), listed(get("/services").header("Authorization", "Bearer " + jwt)));
    }

    // ---- other routes ----------------------------------------------------------------------------

    @Test
    void health_staysOpen() {
        assertEquals(200, send(gateway, get("/health/live")).statusCode());
        assertEquals(200, send(gateway, get("/health/ready")).statusCode());
        assertEquals(302, send(gateway, get("/")).statusCode(), "the redirect to /docs tells nothing");
    }

    @Test
    void metricsAndDocs_needACredential_ofAnyScope() {
        for (String path : List.of("/metrics", "/docs", "/docs/swagger-ui.css", "/openapi.yaml", "/openapi.json")) {
            assertUnauthorized(send(gateway, get(path)), CHALLENGE);
            HttpResponse<String> ok = send(gateway, get(path).header("X-Api-Key", PAYMENTS_KEY));
            assertEquals(200, ok.statusCode(), path + ": " + ok.body());
        }
    }

    @Test
    void publicMetricsAndDocs_needNone_butServicesStillDo() {
        other = Gateway.start(config().withAccess(AccessPolicy.OPEN.withApiKeys(ApiKeys.load(dir.resolve("api-keys")))
                .withPublic(true, true)));
        for (String path : List.of("/metrics", "/docs", "/docs/swagger-ui-bundle.js", "/openapi.yaml", "/openapi.json")) {
            HttpResponse<String> ok = send(other, get(path));
            assertEquals(200, ok.statusCode(), path + ": " + ok.body());
        }
        assertUnauthorized(send(other, post("/services/echo", "hi")), CHALLENGE);
        assertUnauthorized(send(other, get("/services")), CHALLENGE);
    }

    @Test
    void dashboardEvents_needACredential_asMetricsDo_andListOnlyWhatItCovers() throws Exception {
        assertEquals(200, send(gateway, get("/dashboard")).statusCode(), "the page is static and holds no data");
        assertUnauthorized(send(gateway, get("/dashboard/events")), CHALLENGE);
        assertEquals(Set.of("echo"), snapshotServices(gateway, get("/dashboard/events").header("X-Api-Key", ECHO_KEY)));
        assertEquals(Set.of("echo", "count"),
                snapshotServices(gateway, get("/dashboard/events").header("Authorization", "Bearer " + ALL_KEY)));
    }

    @Test
    void withPublicMetrics_dashboardEventsNeedNone() throws Exception {
        other = Gateway.start(config().withAccess(AccessPolicy.OPEN.withApiKeys(ApiKeys.load(dir.resolve("api-keys")))
                .withPublic(true, false)));
        assertTrue(Await.until(() -> snapshotServices(other, get("/dashboard/events")).contains("echo"), WAIT),
                "echo on the open dashboard stream");
    }

    /** The services of the first snapshot on a dashboard stream, read with the gateway's headers checked. */
    private static Set<String> snapshotServices(Gateway g, HttpRequest.Builder request) {
        HttpRequest built = request.copy().uri(uri(g, request.build().uri().getRawPath())).build();
        try {
            HttpResponse<java.io.InputStream> response = HTTP.send(built, HttpResponse.BodyHandlers.ofInputStream());
            OpenApiContract.Stream stream = CONTRACT.checkStream(built, null, response);
            assertEquals(200, response.statusCode());
            try (java.io.BufferedReader lines = new java.io.BufferedReader(
                    new java.io.InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    if (line.startsWith("data: ")) {
                        lines.readLine(); // the blank line that ends the event, so the check sees it whole
                        stream.checkBody();
                        Set<String> names = new TreeSet<>();
                        JSON.readTree(line.substring(6)).get("services").forEach(s -> names.add(s.get("name").asText()));
                        return names;
                    }
                }
            }
            throw new AssertionError("the stream ended before its first snapshot");
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void theServedDocument_declaresBothSchemes_andLeavesHealthOpen() throws Exception {
        JsonNode document = json(send(gateway, get("/openapi.json").header("X-Api-Key", ECHO_KEY)));
        JsonNode schemes = document.path("components").path("securitySchemes");
        assertEquals("apiKey", schemes.path("ApiKey").path("type").asText());
        assertEquals("header", schemes.path("ApiKey").path("in").asText());
        assertEquals("X-Api-Key", schemes.path("ApiKey").path("name").asText());
        assertEquals("http", schemes.path("BearerAuth").path("type").asText());
        assertEquals("bearer", schemes.path("BearerAuth").path("scheme").asText());
        assertEquals("JWT", schemes.path("BearerAuth").path("bearerFormat").asText());
        Set<String> global = new TreeSet<>();
        document.path("security").forEach(s -> s.fieldNames().forEachRemaining(global::add));
        assertEquals(Set.of("ApiKey", "BearerAuth"), global);
        assertTrue(document.path("paths").path("/health/live").path("get").path("security").isEmpty());
        assertTrue(document.path("paths").path("/health/live").path("get").has("security"));
        assertTrue(document.path("paths").path("/services/{name}").path("post").path("responses").has("401"));
        assertTrue(document.path("paths").path("/services/{name}").path("post").path("responses").has("403"));
    }

    @Test
    void corsPreflight_needsNoCredential_andA401_isReadableByTheAllowedOrigin() {
        HttpResponse<String> preflight = send(gateway, HttpRequest.newBuilder(uri(gateway, "/services/echo"))
                .header("Origin", ORIGIN).header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, preflight.statusCode(), preflight.body());
        assertEquals(ORIGIN, preflight.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
        assertEquals("authorization,content-type",
                preflight.headers().firstValue("Access-Control-Allow-Headers").orElse(null));
        HttpResponse<String> refused = send(gateway, post("/services/echo", "hi").header("Origin", ORIGIN));
        assertUnauthorized(refused, CHALLENGE);
        assertEquals(ORIGIN, refused.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
    }

    @Test
    void jwtsFromAJwkSet_rs256() throws Exception {
        RSAKey key = new RSAKeyGenerator(2048).keyID("gateway-test").generate();
        RSAKey stranger = new RSAKeyGenerator(2048).keyID("gateway-test").generate();
        // The file holds the private key too, as a careless operator might; only its public part is used.
        Path jwks = TestCredentials.write(dir.resolve("jwks.json"), new JWKSet(List.of(key)).toString(false));
        other = Gateway.start(config().withAccess(AccessPolicy.OPEN.withJwt(JwtVerifier.jwks(jwks))));
        String good = TestCredentials.rs256(key, TestCredentials.claims(List.of("echo")));
        assertTrue(Await.until(() -> send(other, bearer("/services/echo", good)).statusCode() == 200, WAIT));
        HttpResponse<String> ok = send(other, bearer("/services/echo", good));
        assertEquals("hi", ok.body());
        assertForbidden(send(other, bearer("/services/count", good)), "count");
        assertUnauthorized(send(other, bearer("/services/echo",
                TestCredentials.rs256(stranger, TestCredentials.claims(List.of("echo"))))), INVALID_TOKEN);
        // HS256 is not accepted where the keys are public: no algorithm confusion (RFC 8725 §2.1).
        String hs = TestCredentials.hs256(randomHex(32).getBytes(StandardCharsets.US_ASCII),
                TestCredentials.claims(List.of("echo")));
        assertUnauthorized(send(other, bearer("/services/echo", hs)), INVALID_TOKEN);
        assertUnauthorized(send(other, post("/services/echo", "hi").header("X-Api-Key", ECHO_KEY)), INVALID_TOKEN);
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static HttpResponse<String> assertUnauthorized(HttpResponse<String> response, String challenge) {
        assertEquals(401, response.statusCode(), response.body());
        assertEquals(challenge, response.headers().firstValue("WWW-Authenticate").orElse(null));
        assertEquals(Problem.MEDIA_TYPE, response.headers().firstValue("Content-Type").orElse(null));
        assertEquals("urn:mdp-gateway:problem:unauthorized", json(response).get("type").asText());
        return response;
    }

    private static void assertForbidden(HttpResponse<String> response, String service) {
        assertEquals(403, response.statusCode(), response.body());
        assertEquals(CHALLENGE + ", error=\"insufficient_scope\"",
                response.headers().firstValue("WWW-Authenticate").orElse(null));
        JsonNode problem = json(response);
        assertEquals("urn:mdp-gateway:problem:forbidden", problem.get("type").asText());
        assertEquals(service, problem.get("service").asText());
    }

    private static Set<String> listed(HttpRequest.Builder request) {
        HttpResponse<String> response = send(gateway, request);
        assertEquals(200, response.statusCode(), response.body());
        Set<String> names = new TreeSet<>();
        json(response).get("services").forEach(s -> names.add(s.get("name").asText()));
        return names;
    }

    private static URI uri(Gateway g, String path) {
        return URI.create("http://127.0.0.1:" + g.httpPort() + path);
    }

    private static HttpRequest.Builder get(String path) {
        return HttpRequest.newBuilder(URI.create(PLACEHOLDER + path)).GET();
    }

    /** The bodies of the requests being built, for the document's check of the request. */
    private static final Map<HttpRequest.Builder, String> BODIES = java.util.Collections.synchronizedMap(
            new IdentityHashMap<>());

    private static HttpRequest.Builder post(String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(PLACEHOLDER + path)).POST(HttpRequest.BodyPublishers.ofString(body));
        BODIES.put(b, body);
        return b;
    }

    private static HttpRequest.Builder bearer(String path, String token) {
        return post(path, "hi").header("Authorization", "Bearer " + token);
    }

    /** Sends {@code request} (its URI a path) to {@code g}; the exchange must match the document. */
    private static HttpResponse<String> send(Gateway g, HttpRequest.Builder request) {
        URI planned = request.build().uri();
        HttpRequest built = request.copy().uri(uri(g, planned.getRawPath()
                + (planned.getRawQuery() == null ? "" : "?" + planned.getRawQuery()))).timeout(WAIT).build();
        try {
            HttpResponse<String> response = HTTP.send(built, HttpResponse.BodyHandlers.ofString());
            CONTRACT.check(built, BODIES.remove(request), response);
            return response;
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + response.body(), e);
        }
    }

    private static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
