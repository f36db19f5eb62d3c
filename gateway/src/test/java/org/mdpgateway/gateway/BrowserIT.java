package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.mdpgateway.broker.BrokerConfig;

/**
 * A real headless Chromium against a real gateway: Swagger UI at {@code /docs} renders the API with
 * no request to any other host, and the README's fetch snippets for SSE and NDJSON, run in that page
 * (same origin as the API), read {@code count}'s stream part by part.
 *
 * <p>Without a Chromium this is skipped, except on CI ({@code CI=true}), where it fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(60)
class BrowserIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** Short, so that {@code : ping} comments come between the SSE events the snippet reads. */
    private static final Duration PING = Duration.ofMillis(50);

    private Gateway gateway;
    private String origin;
    private HeadlessChromium chromium;
    private HeadlessChromium.Page page;
    private String missingBrowser;

    @BeforeAll
    void start() throws Exception {
        Optional<Path> executable = HeadlessChromium.find();
        if (executable.isEmpty()) {
            String message = "no Chromium found (looked at $CHROMIUM, /usr/bin/chromium and chromium, chromium-browser, "
                    + "google-chrome on the PATH); install it with: apt-get install -y chromium";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail(message + " (CI=true: browser tests may not be skipped)");
            }
            missingBrowser = message + "; skipping the browser tests (CI=true makes this a failure)";
            return;
        }
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0).withDemoWorkers(true).withPingInterval(PING)
                .withDrainGrace(Duration.ofSeconds(1)));
        origin = "http://127.0.0.1:" + gateway.httpPort();
        awaitService("count");

        chromium = HeadlessChromium.launch(executable.get(), Path.of("target", "browser-it").toAbsolutePath());
        page = chromium.newPage();
        page.call("Network.enable", Map.of());
        page.call("Runtime.enable", Map.of());
        page.call("Page.enable", Map.of());
        page.call("Page.navigate", Map.of("url", origin + "/docs"));
        awaitInPage("document.readyState === 'complete' && location.href === '" + origin + "/docs'",
                "the page to load " + origin + "/docs");
    }

    /** Each test is reported as skipped, not just left out, when there is no browser. */
    @BeforeEach
    void browserPresent() {
        Assumptions.assumeTrue(missingBrowser == null, missingBrowser);
    }

    @AfterAll
    void stop() throws Exception {
        if (chromium != null) {
            chromium.close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void swaggerUiRendersTheOperationsWithoutAnyOtherHost() throws Exception {
        String operations = "JSON.stringify([...document.querySelectorAll('#swagger-ui .opblock-summary')].map(s =>"
                + " (s.querySelector('.opblock-summary-method')?.innerText ?? '') + ' '"
                + " + (s.querySelector('.opblock-summary-path')?.innerText ?? '').replace(/[\\u200b\\s]/g, '')))";
        List<String> rendered = List.of();
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            rendered = List.of(JSON.readValue(page.evaluate(operations).asText(), String[].class));
            if (rendered.contains("POST /services/{name}")) {
                break;
            }
            Thread.sleep(100);
        }
        assertTrue(rendered.contains("POST /services/{name}"),
                "Swagger UI did not render POST /services/{name} within " + WAIT + "; operations shown: " + rendered
                        + "\nbody: " + page.evaluate("document.body.innerText.slice(0, 2000)").asText()
                        + "\nexceptions: " + page.events("Runtime.exceptionThrown")
                        + "\nbrowser output:\n" + chromium.output());
        assertTrue(rendered.contains("GET /services/{name}"), "operations shown: " + rendered);
        assertTrue(rendered.contains("GET /services"), "operations shown: " + rendered);

        List<String> urls = requestedUrls();
        assertTrue(urls.contains(origin + "/docs/swagger-ui-bundle.js") && urls.contains(origin + "/openapi.yaml"),
                "the request log misses the page's own files: " + urls);
        List<String> elsewhere = urls.stream().filter(url -> !sameOriginOrLocal(url)).toList();
        assertEquals(List.of(), elsewhere, "/docs made requests to other hosts than " + origin);
        assertEquals(List.of(), page.events("Runtime.exceptionThrown"), "uncaught exceptions in /docs");
    }

    @Test
    void readmeSseSnippetReadsTheStreamPartByPart() throws Exception {
        page.evaluate(ReadmeSnippetsTest.snippet("sse.js"));
        JsonNode events = JSON.readTree(page.evaluate("""
                (async () => {
                  const t0 = performance.now(), got = [];
                  await postSse('/services/count', '3',
                      (event, id, data) => got.push({event, id, data, ms: performance.now() - t0}));
                  return JSON.stringify(got);
                })()""").asText());
        assertEquals(4, events.size(), "events: " + events);
        for (int i = 0; i < 3; i++) {
            JsonNode e = events.get(i);
            assertEquals("partial", e.path("event").asText(), "event " + i + ": " + e);
            assertEquals(String.valueOf(i + 1), e.path("id").asText(), "event " + i + ": " + e);
            assertEquals("partial", e.path("data").path("type").asText(), "event " + i + ": " + e);
            assertEquals(i + 1, e.path("data").path("seq").asInt(), "event " + i + ": " + e);
            assertEquals(JSON.readTree("[{\"text\":\"" + (i + 1) + "\"}]"), e.path("data").path("frames"),
                    "event " + i + ": " + e);
        }
        JsonNode last = events.get(3);
        assertEquals("final", last.path("event").asText(), "last event: " + last);
        assertEquals("4", last.path("id").asText(), "last event: " + last);
        assertEquals("final", last.path("data").path("type").asText(), "last event: " + last);
        assertEquals(JSON.readTree("[{\"text\":\"done\"}]"), last.path("data").path("frames"), "last event: " + last);
        assertLive(events);

        // The same stream read raw: the snippet had : ping comments to skip between those events.
        String raw = page.evaluate("""
                fetch('/services/count', {method: 'POST', body: '3', headers: {'Accept': 'text/event-stream'}})
                    .then(res => res.text())""").asText();
        assertTrue(raw.contains("\n: ping\n") || raw.startsWith(": ping\n"), "no ping comment in the stream:\n" + raw);

        assertProblemThrown("postSse");
    }

    @Test
    void readmeNdjsonSnippetReadsTheStreamLineByLine() throws Exception {
        page.evaluate(ReadmeSnippetsTest.snippet("ndjson.js"));
        JsonNode parts = JSON.readTree(page.evaluate("""
                (async () => {
                  const t0 = performance.now(), got = [];
                  await postNdjson('/services/count', '3', part => got.push({data: part, ms: performance.now() - t0}));
                  return JSON.stringify(got);
                })()""").asText());
        assertEquals(4, parts.size(), "lines: " + parts);
        for (int i = 0; i < 3; i++) {
            JsonNode part = parts.get(i).path("data");
            assertEquals("partial", part.path("type").asText(), "line " + i + ": " + part);
            assertEquals(i + 1, part.path("seq").asInt(), "line " + i + ": " + part);
            assertEquals(JSON.readTree("[{\"text\":\"" + (i + 1) + "\"}]"), part.path("frames"), "line " + i + ": " + part);
        }
        JsonNode last = parts.get(3).path("data");
        assertEquals("final", last.path("type").asText(), "last line: " + last);
        assertEquals(JSON.readTree("[{\"text\":\"done\"}]"), last.path("frames"), "last line: " + last);
        assertLive(parts);

        assertProblemThrown("postNdjson");
    }

    /** The parts arrived as the worker sent them (200 ms apart), not all at once with the final. */
    private static void assertLive(JsonNode received) {
        double first = received.get(0).path("ms").asDouble();
        double last = received.get(received.size() - 1).path("ms").asDouble();
        assertTrue(last - first >= 300, "the parts came " + (last - first) + " ms apart in all, "
                + "not as the worker sent them: " + received);
    }

    /**
     * Before the stream starts a failure is a status and a problem+json, which the snippet throws. (A
     * bad timeout, not a missing worker: with pings this frequent, waiting for a worker starts the SSE
     * stream and its failure comes in-band.)
     */
    private void assertProblemThrown(String function) throws Exception {
        JsonNode problem = JSON.readTree(page.evaluate(function + "('/services/count?timeout=abc', '3', () => {})"
                + ".then(() => 'null', problem => JSON.stringify(problem))").asText());
        assertEquals(400, problem.path("status").asInt(), function + " threw " + problem);
        assertFalse(problem.path("type").asText().isEmpty(), function + " threw " + problem);
        assertFalse(problem.path("detail").asText().isEmpty(), function + " threw " + problem);
    }

    private List<String> requestedUrls() {
        return page.events("Network.requestWillBeSent").stream()
                .map(params -> params.path("request").path("url").asText()).toList();
    }

    /** Our own origin, or a URL that goes to no host at all (data:, blob:, about:). */
    private boolean sameOriginOrLocal(String url) {
        int colon = url.indexOf(':');
        String scheme = colon < 0 ? "" : url.substring(0, colon).toLowerCase(java.util.Locale.ROOT);
        if (Set.of("data", "blob", "about").contains(scheme)) {
            return true;
        }
        try {
            URI uri = URI.create(url);
            return (uri.getScheme() + "://" + uri.getRawAuthority()).equals(origin);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Test
    void swaggerTryItOut_callsTheRunningGateway() throws Exception {
        awaitService("echo");
        awaitInPage("document.querySelector('#operations-services-checkService')", "the GET /services/{name} block");
        String status = page.evaluate("""
                (async () => {
                  const sleep = ms => new Promise(r => setTimeout(r, ms));
                  const until = async (find, what) => {
                    for (let i = 0; i < 150; i++) { const found = find(); if (found) return found; await sleep(100); }
                    throw new Error('timed out waiting for ' + what + ' in '
                        + (document.querySelector('#operations-services-checkService')?.innerHTML ?? '').slice(0, 3000));
                  };
                  const block = document.querySelector('#operations-services-checkService');
                  if (!block.classList.contains('is-open')) {
                    (block.querySelector('.opblock-summary-control') || block.querySelector('.opblock-summary')).click();
                  }
                  (await until(() => block.querySelector('.try-out__btn'), 'Try it out')).click();
                  const input = await until(() => block.querySelector('tr[data-param-name="name"] input')
                      || [...block.querySelectorAll('.parameters tr')]
                          .find(row => (row.querySelector('.parameter__name')?.innerText ?? '').startsWith('name'))
                          ?.querySelector('input'), 'the name field');
                  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, 'echo');
                  input.dispatchEvent(new Event('input', {bubbles: true}));
                  (await until(() => block.querySelector('.execute'), 'Execute')).click();
                  const cell = await until(() => block.querySelector('.live-responses-table tbody .response-col_status'),
                      'the response');
                  return cell.innerText.trim();
                })()
                """).asText();
        assertEquals("200", status, "Swagger UI's try-it-out against this gateway");
        assertTrue(requestedUrls().contains(origin + "/services/echo"), "the call went to this gateway");
    }

    private void awaitInPage(String condition, String what) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            try {
                if (page.evaluate("!!(" + condition + ")").asBoolean()) {
                    return;
                }
            } catch (AssertionError | IllegalStateException e) {
                // the page is between documents; try again
            }
            Thread.sleep(50);
        }
        fail("timed out waiting for " + what + "; requests: "
                + requestedUrls().stream().collect(Collectors.joining("\n  ", "\n  ", ""))
                + "\nbrowser output:\n" + chromium.output());
    }

    private void awaitService(String service) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(origin + "/services/" + service)).build();
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            if (http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                return;
            }
            Thread.sleep(50);
        }
        fail("the demo service " + service + " did not register within " + WAIT);
    }
}
