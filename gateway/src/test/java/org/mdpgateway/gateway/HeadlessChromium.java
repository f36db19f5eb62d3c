package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A headless Chromium driven over the Chrome DevTools Protocol with nothing but the JDK: the browser
 * is started with {@code --remote-debugging-port=0}, its port read from {@code DevToolsActivePort}
 * in a fresh profile directory, a page target opened with {@code PUT /json/new} and spoken to over
 * {@link java.net.http.WebSocket}.
 */
final class HeadlessChromium implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    /** The flags this machine's closed network needs (see the java-maven machine notes), as root. */
    private static final List<String> FLAGS = List.of("--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--no-default-browser-check", "--mute-audio", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0");

    private final Process process;
    private final Path profile;
    private final Path log;
    private final int port;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Page> pages = new CopyOnWriteArrayList<>();

    private HeadlessChromium(Process process, Path profile, Path log, int port) {
        this.process = process;
        this.profile = profile;
        this.log = log;
        this.port = port;
    }

    /** The browser to use: {@code $CHROMIUM} if set, else chromium (or Chrome) on the usual paths. */
    static Optional<Path> find() {
        List<Path> candidates = new ArrayList<>();
        String configured = System.getenv("CHROMIUM");
        if (configured != null && !configured.isBlank()) {
            candidates.add(Path.of(configured));
        }
        for (String name : List.of("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) {
            candidates.add(Path.of("/usr/bin", name));
            String path = System.getenv().getOrDefault("PATH", "");
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty()) {
                    candidates.add(Path.of(dir, name));
                }
            }
        }
        return candidates.stream().filter(Files::isRegularFile).filter(Files::isExecutable).findFirst();
    }

    /** Starts the browser with a new empty profile under {@code workDir}. */
    static HeadlessChromium launch(Path executable, Path workDir) throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path profile = Files.createTempDirectory(workDir, "profile-");
        Path log = workDir.resolve(profile.getFileName() + ".log");
        List<String> command = new ArrayList<>();
        command.add(executable.toString());
        command.addAll(FLAGS);
        command.add("--user-data-dir=" + profile);
        command.add("about:blank");
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        Path activePort = profile.resolve("DevToolsActivePort");
        long end = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (Files.isRegularFile(activePort)) {
                List<String> lines = Files.readAllLines(activePort, UTF_8);
                if (!lines.isEmpty() && !lines.get(0).isBlank()) {
                    return new HeadlessChromium(process, profile, log, Integer.parseInt(lines.get(0).trim()));
                }
            }
            if (!process.isAlive() || System.nanoTime() > end) {
                String why = process.isAlive() ? "did not open its DevTools port within " + START_TIMEOUT
                        : "exited with status " + process.exitValue();
                process.destroyForcibly();
                throw new IllegalStateException(executable + " " + why + "; its output (" + log + "):\n"
                        + tail(log));
            }
            Thread.sleep(50);
        }
    }

    /** Opens a new tab on {@code about:blank} and connects to it. */
    Page newPage() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/new?"
                        + URLEncoder.encode("about:blank", UTF_8)))
                .timeout(Duration.ofSeconds(10)).PUT(HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("PUT /json/new answered " + response.statusCode() + ": " + response.body());
        }
        String url = JSON.readTree(response.body()).path("webSocketDebuggerUrl").asText();
        Page page = new Page();
        page.socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
                .buildAsync(URI.create(url), page).get(10, TimeUnit.SECONDS);
        pages.add(page);
        return page;
    }

    /** The browser's own output so far, for failure messages. */
    String output() {
        return tail(log);
    }

    @Override
    public void close() throws Exception {
        for (Page page : pages) {
            page.close();
        }
        List<ProcessHandle> descendants = process.descendants().toList();
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        descendants.forEach(ProcessHandle::destroyForcibly);
        try (Stream<Path> files = Files.walk(profile)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover profile under target/ is harmless
        }
    }

    private static String tail(Path log) {
        try {
            String text = Files.readString(log, UTF_8);
            return text.length() > 4000 ? "..." + text.substring(text.length() - 4000) : text;
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** One tab: commands with {@link #call}, events recorded per method. */
    static final class Page implements WebSocket.Listener, AutoCloseable {
        private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
        private final List<JsonNode> events = new CopyOnWriteArrayList<>();
        private final StringBuilder partial = new StringBuilder();
        private volatile WebSocket socket;

        /** Sends a command and waits for its result; a CDP error becomes an exception. */
        JsonNode call(String method, Map<String, ?> params) throws Exception {
            int id = ids.incrementAndGet();
            ObjectNode message = JSON.createObjectNode().put("id", id).put("method", method);
            message.set("params", JSON.valueToTree(params));
            CompletableFuture<JsonNode> reply = new CompletableFuture<>();
            pending.put(id, reply);
            synchronized (this) {
                socket.sendText(JSON.writeValueAsString(message), true).get(10, TimeUnit.SECONDS);
            }
            JsonNode answer;
            try {
                answer = reply.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError(method + " got no answer within " + CALL_TIMEOUT, e);
            } finally {
                pending.remove(id);
            }
            if (answer.has("error")) {
                throw new IllegalStateException(method + " failed: " + answer.get("error"));
            }
            return answer.path("result");
        }

        /**
         * Evaluates a script in the page, awaiting a promise it returns, and gives back its value; a
         * thrown exception or rejected promise fails with the page's description of it.
         */
        JsonNode evaluate(String expression) throws Exception {
            JsonNode result = call("Runtime.evaluate", Map.of("expression", expression, "awaitPromise", true,
                    "returnByValue", true));
            if (result.has("exceptionDetails")) {
                JsonNode details = result.get("exceptionDetails");
                String description = details.path("exception").path("description").asText(details.path("text").asText());
                throw new AssertionError("the page threw: " + description);
            }
            return result.path("result").path("value");
        }

        /**
         * Waits until {@code condition}, a script expression, is true in the page; fails after
         * {@code wait} with {@code what} and the text the page shows.
         */
        void awaitTrue(String condition, Duration wait, String what) throws Exception {
            long end = System.nanoTime() + wait.toNanos();
            while (System.nanoTime() < end) {
                try {
                    if (evaluate("!!(" + condition + ")").asBoolean()) {
                        return;
                    }
                } catch (AssertionError | IllegalStateException e) {
                    // the page is between documents; try again
                }
                Thread.sleep(50);
            }
            throw new AssertionError("timed out waiting for " + what + "; the page shows:\n"
                    + evaluate("document.body.innerText.slice(0, 3000)").asText()
                    + "\nexceptions: " + events("Runtime.exceptionThrown"));
        }

        /** Parameters of every event of this method received so far. */
        List<JsonNode> events(String method) {
            return events.stream().filter(e -> method.equals(e.path("method").asText()))
                    .map(e -> e.path("params")).toList();
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                try {
                    JsonNode message = JSON.readTree(text);
                    if (message.has("id")) {
                        CompletableFuture<JsonNode> reply = pending.get(message.get("id").asInt());
                        if (reply != null) {
                            reply.complete(message);
                        }
                    } else {
                        events.add(message);
                    }
                } catch (IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            IllegalStateException closed = new IllegalStateException("DevTools closed the connection: "
                    + statusCode + " " + reason);
            pending.values().forEach(f -> f.completeExceptionally(closed));
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            pending.values().forEach(f -> f.completeExceptionally(error));
        }

        @Override
        public void close() {
            WebSocket ws = socket;
            if (ws != null && !ws.isOutputClosed()) {
                try {
                    ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(2, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | TimeoutException ignored) {
                    // the browser is about to be stopped anyway
                }
            }
        }
    }
}
