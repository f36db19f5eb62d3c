package org.mdpgateway.gateway;

import org.mdpgateway.testing.PrometheusText;

import org.mdpgateway.testing.SseEvents;
import org.mdpgateway.testing.RawFrames;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.BrokerConfig;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The gateway with native workers: raw JeroMQ DEALERs on the broker port, every frame built by hand,
 * scripted step by step so each test knows exactly what the worker has sent when it looks at HTTP.
 */
class GatewayNativeWorkerIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Long enough that a worker the test is not driving at the moment (it answers heartbeats only while it
     * waits for a request) is not buried on a loaded machine; the tests about a killed worker set a short one.
     */
    private static final Duration HEARTBEAT = Duration.ofSeconds(1);
    private static final Duration SHORT_HEARTBEAT = Duration.ofMillis(200);

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ZContext context = new ZContext(1);
    private Gateway gateway;

    @BeforeEach
    void start() {
        start(HEARTBEAT);
    }

    private void start(Duration heartbeat) {
        gateway = Gateway.start(GatewayConfig.defaults(BrokerConfig.defaults("tcp://127.0.0.1:*")
                        .withHeartbeat(heartbeat, 3))
                .withHttp("127.0.0.1", 0)
                .withPingInterval(Duration.ofMillis(100))
                .withDrainGrace(Duration.ofMillis(200)));
    }

    @AfterEach
    void stop() {
        gateway.close();
        context.close();
    }

    /** A native worker that the test drives frame by frame. */
    private final class NativeWorker {
        final ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        byte[] client;

        NativeWorker(String service) throws Exception {
            socket.setLinger(0);
            socket.setHandshakeIvl(500);
            socket.setReceiveTimeOut(10_000);
            socket.connect(gateway.localBrokerEndpoint());
            send("MDPW02", new byte[] {1}, service);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (get("/services/" + service).statusCode() != 200) {
                assertTrue(System.nanoTime() < end, "the native worker never registered");
                Thread.sleep(20);
            }
        }

        /** Waits for the next REQUEST, answering the broker's heartbeats on the way. */
        List<byte[]> takeRequest() {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                assertTrue(System.nanoTime() < end, "no REQUEST reached the native worker in 10 s");
                List<byte[]> msg = receive();
                assertNotNull(msg, "no REQUEST reached the native worker");
                if (msg.get(1)[0] == 5) {
                    heartbeat();
                    continue;
                }
                assertEquals(2, msg.get(1)[0], "expected a REQUEST");
                assertEquals(0, msg.get(3).length, "empty delimiter");
                client = msg.get(2);
                return msg.subList(4, msg.size());
            }
        }

        void partial(Object... body) {
            reply(3, body);
        }

        void fin(Object... body) {
            reply(4, body);
        }

        void heartbeat() {
            send("MDPW02", new byte[] {5});
        }

        private void reply(int command, Object... body) {
            Object[] frames = new Object[4 + body.length];
            frames[0] = "MDPW02";
            frames[1] = new byte[] {(byte) command};
            frames[2] = client;
            frames[3] = new byte[0];
            System.arraycopy(body, 0, frames, 4, body.length);
            send(frames);
        }

        private void send(Object... frames) {
            RawFrames.send(socket, frames);
        }

        private List<byte[]> receive() {
            return RawFrames.receive(socket);
        }
    }

    private static final OpenApiContract CONTRACT = OpenApiContract.get();

    private HttpResponse<String> get(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, null, response);
        return response;
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + gateway.httpPort() + path);
    }

    /**
     * Sends a POST without waiting: its status line comes only with the first part, which this
     * thread's native worker has yet to send.
     */
    private Pending post(String path, String body, String accept) {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return new Pending(request, body, http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream()));
    }

    /** A POST on its way; its head and body are checked against the OpenAPI document. */
    private record Pending(HttpRequest request, String body, CompletableFuture<HttpResponse<InputStream>> future) {}

    private static OpenApiContract.Stream arrived(Pending pending) throws Exception {
        return CONTRACT.checkStream(pending.request(), pending.body(), pending.future().get(10, TimeUnit.SECONDS));
    }

    /** Reads one SSE event's JSON data, skipping ping comments. */
    private static JsonNode nextEvent(BufferedReader in) throws Exception {
        SseEvents.Event event = SseEvents.next(in);
        if (event == null) {
            throw new AssertionError("the stream ended early");
        }
        return JSON.readTree(event.data());
    }

    @Test
    void eachPartialOfANativeWorker_reachesEveryFormatBeforeTheNextIsSent() throws Exception {
        NativeWorker worker = new NativeWorker("native");
        for (String accept : List.of("text/event-stream", "application/x-ndjson", "application/octet-stream")) {
            Pending response = post("/services/native", "go", accept);
            List<byte[]> request = worker.takeRequest();
            assertArrayEquals("go".getBytes(UTF_8), request.get(0));
            OpenApiContract.Stream stream = null;
            BufferedReader in = null;
            for (int i = 1; i <= 3; i++) {
                // The worker sends part i only now: the client must see it before part i + 1 exists.
                worker.partial("part " + i + "\n");
                if (in == null) {
                    stream = arrived(response);
                    in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
                }
                if (accept.equals("text/event-stream")) {
                    JsonNode event = nextEvent(in);
                    assertEquals("partial", event.get("type").asText());
                    assertEquals(i, event.get("seq").asInt());
                    assertEquals("part " + i + "\n", event.get("frames").get(0).get("text").asText());
                } else if (accept.equals("application/x-ndjson")) {
                    JsonNode line = JSON.readTree(in.readLine());
                    assertEquals(i, line.get("seq").asInt());
                } else {
                    assertEquals("part " + i, in.readLine());
                }
            }
            worker.fin("end");
            String rest = in.lines().reduce("", String::concat);
            assertTrue(rest.contains("end"), accept + ": " + rest);
            stream.checkBody();
        }
    }

    @Test
    void workerKilledMidStream_endsTheStreamWithAnInBandError() throws Exception {
        gateway.close();
        start(SHORT_HEARTBEAT);
        NativeWorker worker = new NativeWorker("fragile");
        Pending response = post("/services/fragile", "go", "text/event-stream");
        worker.takeRequest();
        worker.partial("first");
        OpenApiContract.Stream stream = arrived(response);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        assertEquals("partial", nextEvent(in).get("type").asText());
        worker.socket.close(); // killed: no DISCONNECT, no more heartbeats
        JsonNode error = nextEvent(in);
        assertEquals("error", error.get("type").asText());
        assertEquals(502, error.get("problem").get("status").asInt());
        assertEquals("urn:mdp-gateway:problem:worker-lost", error.get("problem").get("type").asText());
        stream.checkBody();
    }

    @Test
    void workerKilledBeforeItsFirstPartial_hasTheRequestResentToAnother() throws Exception {
        gateway.close();
        start(SHORT_HEARTBEAT);
        NativeWorker doomed = new NativeWorker("job");
        Pending response = post("/services/job", "work", "application/x-ndjson");
        doomed.takeRequest();
        doomed.socket.close();
        NativeWorker rescuer = new NativeWorker("job");
        assertArrayEquals("work".getBytes(UTF_8), rescuer.takeRequest().get(0));
        rescuer.fin("rescued");
        OpenApiContract.Stream stream = arrived(response);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        JsonNode line = JSON.readTree(in.readLine());
        assertEquals(200, stream.status());
        stream.checkBody();
        assertEquals("final", line.get("type").asText());
        assertEquals("rescued", line.get("frames").get(0).get("text").asText());
    }

    @Test
    void clientThatDisconnectsMidStream_isCancelled_andTheWorkersLateRepliesAreDropped() throws Exception {
        NativeWorker worker = new NativeWorker("stream");
        try (Socket socket = new Socket("127.0.0.1", gateway.httpPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /services/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                    + "Content-Length: 2\r\n\r\ngo").getBytes(UTF_8));
            out.flush();
            worker.takeRequest();
            worker.partial("one");
            OpenApiContract.Stream stream = CONTRACT.checkRawResponse("POST", "/services/stream",
                    java.util.Map.of("Accept", List.of("text/event-stream")), "go", socket.getInputStream());
            assertEquals("HTTP/1.1 200 OK", stream.statusLine());
            BufferedReader in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
            String line;
            while ((line = in.readLine()) != null && !line.startsWith("data: ")) {
                // headers and the event's first lines
            }
            assertNotNull(line);
        }
        // The client is gone; the next ping finds out and cancels the request in the broker.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String metrics = "";
        while (System.nanoTime() < end) {
            metrics = get("/metrics").body();
            PrometheusText samples = PrometheusText.parse(metrics);
            // The request is counted as gone before it is counted as ended: wait for both.
            if (samples.has(1, "mdpgw_clients_gone_total", "service", "stream") && samples.has(0, "mdpgw_inflight")) {
                break;
            }
            worker.heartbeat();
            Thread.sleep(50);
        }
        assertTrue(PrometheusText.parse(metrics).has(1, "mdpgw_clients_gone_total", "service", "stream"), metrics);
        assertTrue(PrometheusText.parse(metrics).has(0, "mdpgw_inflight"), metrics);
        // The worker finishes anyway; its replies are dropped and it is free for the next request.
        worker.partial("two");
        worker.fin("late");
        Pending next = post("/services/stream", "again", "application/json");
        assertArrayEquals("again".getBytes(UTF_8), worker.takeRequest().get(0));
        worker.fin("fresh");
        OpenApiContract.Stream reply1 = arrived(next);
        JsonNode reply = JSON.readTree(reply1.body().readAllBytes());
        reply1.checkBody();
        assertEquals("fresh", reply.get("parts").get(0).get("frames").get(0).get("text").asText());
    }

    @Test
    void drainGraceOver_openStreamsEndWithAnErrorEvent() throws Exception {
        NativeWorker worker = new NativeWorker("endless");
        Pending response = post("/services/endless", "go", "text/event-stream");
        worker.takeRequest();
        worker.partial("still going");
        OpenApiContract.Stream stream = arrived(response);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        assertEquals("partial", nextEvent(in).get("type").asText());
        Thread closer = new Thread(gateway::close);
        closer.start();
        JsonNode error = nextEvent(in);
        assertEquals("error", error.get("type").asText());
        assertEquals(503, error.get("problem").get("status").asInt());
        assertEquals("urn:mdp-gateway:problem:shutting-down", error.get("problem").get("type").asText());
        stream.checkBody();
        closer.join(10_000);
    }
}
