package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.testing.RawFrames;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The dashboard at {@code /dashboard} in a real headless Chromium against a real gateway: a service
 * appears when its worker registers and its counters move as requests are served; a worker that
 * stops answering is shown silent and then vanishes; try-it shows a streaming service's PARTIALs
 * and its FINAL; the page comes back by itself after the gateway restarts; with API keys it asks
 * for one; and no request goes to any host but the gateway. Skipped without Chromium, as
 * {@link BrowserIT}, unless {@code CI} is set.
 */
@Timeout(120)
class DashboardIT {
    private static final Duration WAIT = Duration.ofSeconds(20);
    /** Short heartbeats, so that a worker that went quiet is buried within seconds. */
    private static final Duration HEARTBEAT = Duration.ofMillis(250);
    private static final int LIVENESS = 12;
    private static final String KEY = "dashboard-test-key-0123456789abcdef";

    @TempDir
    Path dir;
    private Path executable;
    private Gateway gateway;
    private String origin;
    private HeadlessChromium chromium;
    private HeadlessChromium.Page page;
    private MdpWorker greet;
    private MdpWorker ticker;
    private final ZContext zmq = new ZContext(1);

    @BeforeEach
    void browser() {
        Optional<Path> found = HeadlessChromium.find();
        if (found.isEmpty()) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("no Chromium found (CI=true: browser tests may not be skipped)");
            }
            Assumptions.abort("no Chromium found; install it with: apt-get install -y chromium");
        }
        executable = found.get();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {greet, ticker}) {
            if (c != null) {
                c.close();
            }
        }
        if (chromium != null) {
            chromium.close();
        }
        if (gateway != null) {
            gateway.close();
        }
        zmq.close();
    }

    private static GatewayConfig config(int port) {
        return GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(HEARTBEAT, LIVENESS))
                .withHttp("127.0.0.1", port).withDrainGrace(Duration.ofMillis(200));
    }

    private void openDashboard() throws Exception {
        chromium = HeadlessChromium.launch(executable, Path.of("target", "dashboard-it").toAbsolutePath());
        page = chromium.newPage();
        page.call("Network.enable", Map.of());
        page.call("Runtime.enable", Map.of());
        page.call("Page.enable", Map.of());
        page.call("Page.navigate", Map.of("url", origin + "/dashboard"));
    }

    @Test
    void theDashboard_showsServicesWorkersAndRequests_live() throws Exception {
        gateway = Gateway.start(config(0));
        origin = "http://127.0.0.1:" + gateway.httpPort();
        openDashboard();
        awaitInPage("document.getElementById('status').textContent === 'live'", "the stream to open");
        awaitInPage("typeof state !== 'undefined' && state.received >= 1", "a first snapshot");
        assertEquals(0, page.evaluate("document.querySelectorAll('tr.service').length").asInt(), "no service yet");

        // A service appears when its worker registers, and its counters move as requests are served.
        greet = MdpWorker.builder(gateway.localBrokerEndpoint(), "greet").heartbeatInterval(HEARTBEAT)
                .start((request, partials) -> Body.ofStrings("hello " + request.lastString()));
        awaitInPage(cell("greet", "workers") + "?.textContent.startsWith('1 / 0')", "greet with one idle worker");
        for (int i = 0; i < 3; i++) {
            assertEquals("hello you", post("/services/greet", "you"));
        }
        awaitInPage(cell("greet", "served") + "?.textContent === '3'", "greet's served counter at 3");

        // On the row opened, each worker; one that stops answering is shown silent, then vanishes.
        ZMQ.Socket mute = registeredRawWorker("greet", 2);
        awaitInPage(cell("greet", "workers") + "?.textContent.startsWith('2 / 0')", "greet with two workers");
        page.evaluate("document.querySelector('tr.service[data-service=\"greet\"]').click()");
        awaitInPage("document.querySelectorAll('tr[data-detail=\"greet\"] tr.worker').length === 2", "both workers listed");
        String served = page.evaluate("[...document.querySelectorAll('tr[data-detail=\"greet\"] tr.worker')]"
                + ".map(r => r.cells[1].textContent + ':' + r.cells[3].textContent).sort().join(',')").asText();
        assertEquals("mdp02:0,mdp02:3", served, "each worker's dialect and requests served");
        mute.close(); // killed: it sends nothing more, and the broker hears nothing
        awaitInPage("document.querySelector('tr[data-detail=\"greet\"] tr.worker.silent')", "the quiet worker shown silent");
        awaitInPage(cell("greet", "workers") + "?.textContent.startsWith('1 / 0')"
                + " && document.querySelectorAll('tr[data-detail=\"greet\"] tr.worker').length === 1",
                "the quiet worker gone once the broker buried it");

        // Try it on a streaming service: its PARTIALs arrive, and the FINAL ends it.
        ticker = MdpWorker.builder(gateway.localBrokerEndpoint(), "ticker").heartbeatInterval(HEARTBEAT)
                .start((request, partials) -> {
                    int n = Integer.parseInt(request.lastString());
                    for (int i = 1; i <= n; i++) {
                        partials.send(Body.ofStrings("tick " + i));
                        Thread.sleep(100);
                    }
                    return Body.ofStrings("done");
                });
        awaitInPage("[...document.getElementById('tryit-service').options].some(o => o.value === 'ticker')",
                "ticker in the try-it box");
        page.evaluate("(() => { document.getElementById('tryit-service').value = 'ticker';"
                + " document.getElementById('tryit-body').value = '3';"
                + " document.getElementById('tryit-send').click(); return true; })()");
        awaitInPage("document.querySelector('#tryit-log .final')", "the FINAL in the try-it log");
        String log = page.evaluate("[...document.querySelectorAll('#tryit-log div')].map(d => d.textContent).join('\\n')")
                .asText();
        assertEquals("POST /services/ticker\npartial 1: tick 1\npartial 2: tick 2\npartial 3: tick 3\nfinal 4: done", log);
        awaitInPage(cell("ticker", "served") + "?.textContent === '1'", "ticker's request counted");

        // The gateway restarts on the same port: the page notices, and comes back by itself.
        int port = gateway.httpPort();
        greet.close();
        greet = null;
        ticker.close();
        ticker = null;
        gateway.close();
        awaitInPage("document.getElementById('status').textContent !== 'live'", "the page to see the gateway gone");
        gateway = Gateway.start(config(port).withDemoWorkers(true));
        awaitInPage("document.getElementById('status').textContent === 'live' && " + cell("echo", "workers"),
                "the page to follow the new gateway and its demo service echo");

        List<String> elsewhere = page.events("Network.requestWillBeSent").stream()
                .map(params -> params.path("request").path("url").asText())
                .filter(url -> !url.startsWith(origin + "/") && !url.startsWith("data:") && !url.startsWith("about:"))
                .toList();
        assertEquals(List.of(), elsewhere, "requests to hosts other than " + origin);
        assertEquals(List.of(), page.events("Runtime.exceptionThrown"), "uncaught exceptions in the page");
    }

    @Test
    void withApiKeys_thePageAsksForOne_andThenShowsTheServices() throws Exception {
        Path keys = TestCredentials.write(dir.resolve("keys"), TestCredentials.keyLine(KEY, "echo") + "\n");
        gateway = Gateway.start(config(0).withDemoWorkers(true)
                .withAccess(AccessPolicy.OPEN.withApiKeys(ApiKeys.load(keys))));
        origin = "http://127.0.0.1:" + gateway.httpPort();
        openDashboard();
        awaitInPage("document.getElementById('key-box').classList.contains('shown')", "the key box");
        assertEquals("needs a credential", page.evaluate("document.getElementById('status').textContent").asText());
        page.evaluate("(() => { document.getElementById('key').value = '" + KEY + "';"
                + " document.querySelector('#key-form button').click(); return true; })()");
        awaitInPage("document.getElementById('status').textContent === 'live' && " + cell("echo", "workers"),
                "the services, once the key is entered");
        assertEquals(1, page.evaluate("document.querySelectorAll('tr.service').length").asInt(),
                "the key covers echo only, so count is not listed");
        // Try-it sends the key too.
        page.evaluate("(() => { document.getElementById('tryit-service').value = 'echo';"
                + " document.getElementById('tryit-body').value = 'hi';"
                + " document.getElementById('tryit-send').click(); return true; })()");
        awaitInPage("document.querySelector('#tryit-log .final')", "echo's FINAL in the try-it log");
        assertTrue(page.evaluate("document.querySelector('#tryit-log .final').textContent").asText().endsWith(": hi"));
    }

    private static String cell(String service, String counter) {
        return "document.querySelector('tr.service[data-service=\"" + service + "\"] td[data-counter=\"" + counter + "\"]')";
    }

    /**
     * A raw DEALER registered as a worker of {@code service}, once the broker counts {@code workers}
     * for it. JeroMQ now and then loses a fresh connection's first message before its handshake; a
     * socket whose READY the broker never saw is replaced, not waited on.
     */
    private ZMQ.Socket registeredRawWorker(String service, int workers) throws Exception {
        for (int attempt = 0; attempt < 5; attempt++) {
            ZMQ.Socket socket = zmq.createSocket(SocketType.DEALER);
            socket.setLinger(0);
            socket.connect(gateway.localBrokerEndpoint());
            RawFrames.send(socket, "MDPW02", new byte[] {1}, service);
            long end = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while (System.nanoTime() < end) {
                boolean counted = gateway.broker().stats().get(5, java.util.concurrent.TimeUnit.SECONDS).stream()
                        .anyMatch(st -> st.service().equals(service) && st.workers() == workers);
                if (counted) {
                    return socket;
                }
                Thread.sleep(20);
            }
            socket.close();
        }
        return fail("the broker never counted a raw worker's READY for " + service);
    }

    private String post(String path, String body) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(origin + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response.body();
    }

    private void awaitInPage(String condition, String what) throws Exception {
        page.awaitTrue(condition, WAIT, what);
    }
}
