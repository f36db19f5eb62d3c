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
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;

/**
 * Swagger UI's "Authorize" button at {@code /docs} (public with {@code --public-docs}) against a gateway
 * that asks for API keys: a try-it-out call fails with 401 before, and succeeds after the key is
 * entered in the dialog. Skipped without Chromium, as {@link BrowserIT}, unless {@code CI} is set.
 */
class SwaggerAuthorizeIT {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String KEY = "swagger-authorize-test-key-0123456789";

    @TempDir
    Path dir;
    private Gateway gateway;
    private HeadlessChromium chromium;

    @AfterEach
    void stop() throws Exception {
        if (chromium != null) {
            chromium.close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void theAuthorizeButton_sendsTheKey_withTryItOut() throws Exception {
        Optional<Path> executable = HeadlessChromium.find();
        if (executable.isEmpty()) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("no Chromium found (CI=true: browser tests may not be skipped)");
            }
            Assumptions.abort("no Chromium found; install it with: apt-get install -y chromium");
        }
        Path keys = TestCredentials.write(dir.resolve("keys"), TestCredentials.keyLine(KEY, "echo") + "\n");
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*"))
                .withHttp("127.0.0.1", 0).withDemoWorkers(true).withDrainGrace(Duration.ofMillis(500))
                .withAccess(AccessPolicy.OPEN.withApiKeys(ApiKeys.load(keys)).withPublic(false, true)));
        String origin = "http://127.0.0.1:" + gateway.httpPort();
        awaitEcho(origin);

        chromium = HeadlessChromium.launch(executable.get(), Path.of("target", "swagger-authorize-it").toAbsolutePath());
        HeadlessChromium.Page page = chromium.newPage();
        page.call("Runtime.enable", Map.of());
        page.call("Page.enable", Map.of());
        page.call("Page.navigate", Map.of("url", origin + "/docs"));
        awaitInPage(page, "document.querySelector('#operations-services-checkService') && document.querySelector('.btn.authorize')");

        assertEquals("401", tryCheckService(page), "without the key, the call is refused");
        String authorized = page.evaluate("""
                (async () => {
                  const sleep = ms => new Promise(r => setTimeout(r, ms));
                  const until = async (find, what) => {
                    for (let i = 0; i < 150; i++) { const found = find(); if (found) return found; await sleep(100); }
                    throw new Error('timed out waiting for ' + what);
                  };
                  document.querySelector('.btn.authorize').click();
                  const container = await until(() => [...document.querySelectorAll('.auth-container')]
                      .find(c => c.innerText.includes('ApiKey')), 'the ApiKey form');
                  const input = container.querySelector('input');
                  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, '%s');
                  input.dispatchEvent(new Event('input', {bubbles: true}));
                  input.dispatchEvent(new Event('change', {bubbles: true}));
                  (await until(() => container.querySelector('button.authorize'), 'its Authorize button')).click();
                  await until(() => [...document.querySelectorAll('.auth-container')].some(c =>
                      c.innerText.includes('ApiKey') && /Logout|Authorized/.test(c.innerText)), 'the key to be taken');
                  (await until(() => document.querySelector('.btn-done, .close-modal'), 'the close button')).click();
                  return 'ok';
                })()
                """.formatted(KEY)).asText();
        assertEquals("ok", authorized);
        assertEquals("200", tryCheckService(page), "with the key from the Authorize dialog, the call succeeds");
    }

    /** Try it out on GET /services/{name} with echo; the status Swagger UI shows. */
    private static String tryCheckService(HeadlessChromium.Page page) throws Exception {
        return page.evaluate("""
                (async () => {
                  const sleep = ms => new Promise(r => setTimeout(r, ms));
                  const until = async (find, what) => {
                    for (let i = 0; i < 150; i++) { const found = find(); if (found) return found; await sleep(100); }
                    throw new Error('timed out waiting for ' + what);
                  };
                  const block = document.querySelector('#operations-services-checkService');
                  if (!block.classList.contains('is-open')) {
                    (block.querySelector('.opblock-summary-control') || block.querySelector('.opblock-summary')).click();
                  }
                  const tryOut = await until(() => block.querySelector('.try-out__btn'), 'Try it out');
                  if (!tryOut.classList.contains('cancel')) tryOut.click();
                  const input = await until(() => block.querySelector('tr[data-param-name="name"] input')
                      || [...block.querySelectorAll('.parameters tr')]
                          .find(row => (row.querySelector('.parameter__name')?.innerText ?? '').startsWith('name'))
                          ?.querySelector('input'), 'the name field');
                  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, 'echo');
                  input.dispatchEvent(new Event('input', {bubbles: true}));
                  const old = block.querySelector('.btn-clear');
                  if (old) { old.click(); await until(() => !block.querySelector('.live-responses-table'), 'cleared'); }
                  (await until(() => block.querySelector('.execute'), 'Execute')).click();
                  const cell = await until(() => block.querySelector('.live-responses-table tbody .response-col_status'),
                      'the response');
                  return cell.innerText.trim().split(/\\s/)[0];
                })()
                """).asText();
    }

    private static void awaitInPage(HeadlessChromium.Page page, String condition) throws Exception {
        page.awaitTrue(condition, WAIT, condition);
    }

    private static void awaitEcho(String origin) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(origin + "/services/echo")).header("X-Api-Key", KEY).build();
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            if (http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                return;
            }
            Thread.sleep(50);
        }
        fail("the demo service echo did not register within " + WAIT);
    }
}
