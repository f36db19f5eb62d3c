package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.BrokerSecurity;
import org.mdpgateway.mdp.security.CurveCertificate;
import org.mdpgateway.testing.Await;

/**
 * CURVE between the gateway's broker and libzmq peers (pyzmq, Debian's python3-zmq), both ways:
 * certificates pyzmq writes are read by the broker, ours are read by pyzmq, a pyzmq worker serves
 * an HTTP caller, a pyzmq client with an allowed key is answered and one with an unknown key gets
 * nothing.
 */
class PyzmqCurveIT {
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;
    private String python;
    private Gateway gateway;
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void findPyzmq() {
        Optional<String> found = pythonWithPyzmq();
        if (found.isEmpty()) {
            String message = "no python3 with pyzmq (tried /usr/bin/python3 and python3); install it with: "
                    + "apt-get install -y python3-zmq";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail(message + " (CI=true: this test may not be skipped)");
            }
            Assumptions.abort(message);
        }
        python = found.get();
    }

    @AfterEach
    void stop() {
        processes.forEach(Process::destroyForcibly);
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void aPyzmqWorker_andPyzmqClients_speakCurveWithTheBroker() throws Exception {
        Path allowed = Files.createDirectories(dir.resolve("allowed"));
        CurveCertificate.generate().writeTo(dir, "broker");
        // pyzmq's own certificates for its worker and for a client the broker does not know.
        run(script("make_certificates.py"), dir.resolve("py").toString(), "pyworker");
        run(script("make_certificates.py"), dir.resolve("py").toString(), "stranger");
        Files.copy(dir.resolve("py/pyworker.key"), allowed.resolve("pyworker.key"));
        // Ours for a pyzmq client.
        CurveCertificate.generate().writeTo(dir.resolve("java"), "client");
        Files.copy(dir.resolve("java/client.key"), allowed.resolve("client.key"));

        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*")
                        .withSecurity(BrokerSecurity.curve(dir.resolve("broker.key_secret"), allowed, null)))
                .withHttp("127.0.0.1", 0).withDrainGrace(Duration.ofMillis(200)));
        String endpoint = gateway.localBrokerEndpoint();
        String brokerCert = dir.resolve("broker.key").toString();

        Process worker = start(script("curve_worker.py"), endpoint, brokerCert,
                dir.resolve("py/pyworker.key_secret").toString(), "py.echo", "60");
        assertTrue(Await.until(() -> get("/services/py.echo").statusCode() == 200, Duration.ofSeconds(20)),
                "the pyzmq worker registered over CURVE");

        HttpResponse<String> answer = HTTP.send(HttpRequest.newBuilder(uri("/services/py.echo"))
                .header("Accept", "application/x-ndjson").POST(HttpRequest.BodyPublishers.ofString("hello")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, answer.statusCode());
        assertTrue(answer.body().contains("hello") && answer.body().contains("HELLO"), answer.body());

        assertEquals("final WORLD", run(script("curve_client.py"), endpoint, brokerCert,
                dir.resolve("java/client.key_secret").toString(), "py.echo", "world", "10"));
        assertEquals("nothing", run(script("curve_client.py"), endpoint, brokerCert,
                dir.resolve("py/stranger.key_secret").toString(), "py.echo", "intruder", "2"),
                "a libzmq client with an unknown key gets nothing");
        assertTrue(worker.isAlive());
    }

    private static Optional<String> pythonWithPyzmq() {
        for (String candidate : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import zmq, zmq.auth; assert zmq.has('curve')")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return Optional.of(candidate);
                }
            } catch (IOException | InterruptedException e) {
                // not this one
            }
        }
        return Optional.empty();
    }

    private Path script(String name) throws IOException {
        Path target = dir.resolve(name);
        if (!Files.exists(target)) {
            try (var in = getClass().getResourceAsStream("/pyzmq/" + name)) {
                Files.copy(in, target);
            }
        }
        return target;
    }

    private Process start(Path script, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(python, script.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    /** Runs a script to its end; its last line of output. */
    private String run(Path script, String... args) throws Exception {
        Process p = start(script, args);
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
            }
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), script.getFileName() + ": " + lines);
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }

    private HttpResponse<String> get(String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + gateway.httpPort() + path);
    }
}
