package org.mdpgateway.gateway;

import org.mdpgateway.testing.PrometheusText;

import org.mdpgateway.testing.SseEvents;
import org.mdpgateway.testing.RawFrames;
import static org.mdpgateway.testing.RawFrames.receive;
import static org.mdpgateway.testing.RawFrames.send;
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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
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
 * The gateway in front of MDP/0.1 (zguide) and majortomo workers, and with clients of those dialects
 * on its broker port: raw JeroMQ DEALERs whose every frame the test writes by hand.
 */
class GatewayDialectsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OpenApiContract CONTRACT = OpenApiContract.get();
    /**
     * Long enough that a worker the test is not driving at the moment (it answers heartbeats only while it
     * waits for a request) is not buried on a loaded machine; the one test about burial sets a short one.
     */
    private static final Duration HEARTBEAT = Duration.ofSeconds(1);
    private static final byte[] EMPTY = new byte[0];

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

    /** The header frames a dialect puts before a worker command byte. */
    private enum WorkerDialect {
        MDP01(EMPTY, "MDPW01", 2, 3, 4, 5),
        MAJORTOMO(EMPTY, "MDPW02", 2, 4, 5, 6);

        final byte[] leading;
        final String header;
        final int request;
        final int finalReply;
        final int heartbeat;
        final int disconnect;

        WorkerDialect(byte[] leading, String header, int request, int finalReply, int heartbeat, int disconnect) {
            this.leading = leading;
            this.header = header;
            this.request = request;
            this.finalReply = finalReply;
            this.heartbeat = heartbeat;
            this.disconnect = disconnect;
        }
    }

    /** A worker of another dialect, driven frame by frame. */
    private final class DialectWorker {
        final WorkerDialect dialect;
        final ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        byte[] client;

        DialectWorker(WorkerDialect dialect, String service) throws Exception {
            this.dialect = dialect;
            socket.setLinger(0);
            socket.setHandshakeIvl(500);
            socket.setReceiveTimeOut(10_000);
            socket.connect(gateway.localBrokerEndpoint());
            command(1, service);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (get("/services/" + service).statusCode() != 200) {
                assertTrue(System.nanoTime() < end, "the " + dialect + " worker never registered");
                Thread.sleep(20);
            }
        }

        /** Waits for the next REQUEST, answering the broker's heartbeats (in this dialect) on the way. */
        List<byte[]> takeRequest() {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                assertTrue(System.nanoTime() < end, "no REQUEST reached the worker in 10 s");
                List<byte[]> msg = receive();
                assertNotNull(msg, "no REQUEST reached the worker");
                assertEquals(0, msg.get(0).length, "an empty frame first");
                assertEquals(dialect.header, new String(msg.get(1), UTF_8));
                if (msg.get(2)[0] == dialect.heartbeat) {
                    assertEquals(3, msg.size(), "a HEARTBEAT is three frames");
                    command(dialect.heartbeat);
                    continue;
                }
                assertEquals(dialect.request, msg.get(2)[0], "expected a REQUEST");
                assertEquals(0, msg.get(4).length, "empty delimiter");
                client = msg.get(3);
                return msg.subList(5, msg.size());
            }
        }

        void partial(String body) {
            command(3, client, EMPTY, body);
        }

        void fin(Object... body) {
            Object[] frames = new Object[2 + body.length];
            frames[0] = client;
            frames[1] = EMPTY;
            System.arraycopy(body, 0, frames, 2, body.length);
            command(dialect.finalReply, frames);
        }

        void command(int command, Object... rest) {
            List<byte[]> frames = new ArrayList<>();
            frames.add(dialect.leading);
            frames.add(dialect.header.getBytes(UTF_8));
            frames.add(new byte[] {(byte) command});
            for (Object r : rest) {
                frames.add(r instanceof byte[] b ? b : ((String) r).getBytes(UTF_8));
            }
            for (int i = 0; i < frames.size(); i++) {
                socket.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
            }
        }

        private List<byte[]> receive() {
            return RawFrames.receive(socket);
        }
    }

    private ZMQ.Socket client() {
        ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        socket.setLinger(0);
        socket.setReceiveTimeOut(10_000);
        socket.connect(gateway.localBrokerEndpoint());
        return socket;
    }

    private HttpResponse<String> get(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        CONTRACT.check(request, null, response);
        return response;
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + gateway.httpPort() + path);
    }

    private record Pending(HttpRequest request, String body, CompletableFuture<HttpResponse<InputStream>> future) {}

    private Pending post(String path, String body, String accept) {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return new Pending(request, body, http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream()));
    }

    private static OpenApiContract.Stream arrived(Pending pending) throws Exception {
        return CONTRACT.checkStream(pending.request(), pending.body(), pending.future().get(10, TimeUnit.SECONDS));
    }

    private static JsonNode nextEvent(BufferedReader in) throws Exception {
        SseEvents.Event event = SseEvents.next(in);
        if (event == null) {
            throw new AssertionError("the stream ended early");
        }
        return JSON.readTree(event.data());
    }

    // ---- tests ---------------------------------------------------------------------------------

    @Test
    void majortomoWorkersPartials_streamLiveInEveryFormat() throws Exception {
        DialectWorker worker = new DialectWorker(WorkerDialect.MAJORTOMO, "mt");
        for (String accept : List.of("text/event-stream", "application/x-ndjson", "application/octet-stream")) {
            Pending response = post("/services/mt", "go", accept);
            assertArrayEquals("go".getBytes(UTF_8), worker.takeRequest().get(0));
            OpenApiContract.Stream stream = null;
            BufferedReader in = null;
            for (int i = 1; i <= 3; i++) {
                worker.partial("part " + i + "\n"); // part i + 1 does not exist until the client saw part i
                if (in == null) {
                    stream = arrived(response);
                    in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
                }
                if (accept.equals("text/event-stream")) {
                    JsonNode event = nextEvent(in);
                    assertEquals("partial", event.get("type").asText());
                    assertEquals("part " + i + "\n", event.get("frames").get(0).get("text").asText());
                } else if (accept.equals("application/x-ndjson")) {
                    JsonNode line = JSON.readTree(in.readLine());
                    assertEquals("partial", line.get("type").asText());
                    assertEquals(i, line.get("seq").asInt());
                } else {
                    assertEquals("part " + i, in.readLine());
                }
            }
            worker.fin(); // majortomo may end with a FINAL of no body frame
            String rest = in.lines().reduce("", String::concat);
            if (!accept.equals("application/octet-stream")) {
                assertTrue(rest.contains("\"final\""), accept + ": " + rest);
            }
            stream.checkBody();
        }
    }

    @Test
    void mdp01WorkersReply_isTheFinal() throws Exception {
        DialectWorker worker = new DialectWorker(WorkerDialect.MDP01, "zg");
        Pending json = post("/services/zg", "hello", "application/json");
        assertArrayEquals("hello".getBytes(UTF_8), worker.takeRequest().get(0));
        worker.fin("hel", "lo");
        OpenApiContract.Stream reply = arrived(json);
        JsonNode body = JSON.readTree(reply.body().readAllBytes());
        reply.checkBody();
        assertEquals(200, reply.status());
        JsonNode frames = body.get("parts").get(0).get("frames");
        assertEquals("hel", frames.get(0).get("text").asText());
        assertEquals("lo", frames.get(1).get("text").asText());

        Pending sse = post("/services/zg", "again", "text/event-stream");
        worker.takeRequest();
        worker.fin("one reply");
        OpenApiContract.Stream stream = arrived(sse);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream.body(), UTF_8));
        JsonNode event = nextEvent(in);
        assertEquals("final", event.get("type").asText());
        assertEquals("one reply", event.get("frames").get(0).get("text").asText());
        stream.checkBody();
    }

    @Test
    void deadMdp01Worker_hasItsRequestResentToAMajortomoWorker() throws Exception {
        gateway.close();
        start(Duration.ofMillis(200));
        DialectWorker doomed = new DialectWorker(WorkerDialect.MDP01, "job");
        Pending response = post("/services/job", "work", "application/x-ndjson");
        doomed.takeRequest();
        doomed.socket.close(); // silent from now on: buried after interval x liveness
        DialectWorker rescuer = new DialectWorker(WorkerDialect.MAJORTOMO, "job");
        assertArrayEquals("work".getBytes(UTF_8), rescuer.takeRequest().get(0));
        rescuer.fin("rescued");
        OpenApiContract.Stream stream = arrived(response);
        JsonNode line = JSON.readTree(new BufferedReader(new InputStreamReader(stream.body(), UTF_8)).readLine());
        stream.checkBody();
        assertEquals("rescued", line.get("frames").get(0).get("text").asText());
    }

    @Test
    void servicesAndMetrics_showWorkersByDialect_andRequestsByTheDialectOfTheirClient() throws Exception {
        DialectWorker zguide = new DialectWorker(WorkerDialect.MDP01, "mixed");
        DialectWorker majortomo = new DialectWorker(WorkerDialect.MAJORTOMO, "mixed");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (JSON.readTree(get("/services").body()).get("services").get(0).get("workers").get("idle").asInt() < 2) {
            assertTrue(System.nanoTime() < end, "both workers never registered");
            Thread.sleep(20);
        }

        // A zguide client and a majortomo client on the broker port, and one HTTP caller.
        ZMQ.Socket zguideClient = client();
        send(zguideClient, EMPTY, "MDPC01", "mixed", "from zguide");
        DialectWorker first = takeFromEither(zguide, majortomo);
        first.fin("to zguide");
        assertFrames(receive(zguideClient), EMPTY, "MDPC01", "mixed", "to zguide");

        ZMQ.Socket majortomoClient = client();
        send(majortomoClient, EMPTY, "MDPC02", new byte[] {2}, "mixed", "from majortomo");
        DialectWorker second = takeFromEither(zguide, majortomo);
        second.fin("to majortomo");
        assertFrames(receive(majortomoClient), EMPTY, "MDPC02", new byte[] {4}, "to majortomo");

        Pending fromHttp = post("/services/mixed", "from http", "application/json");
        takeFromEither(zguide, majortomo).fin("to http");
        assertEquals(200, arrived(fromHttp).status());

        JsonNode services = JSON.readTree(get("/services").body());
        JsonNode mixed = services.get("services").get(0);
        assertEquals("mixed", mixed.get("name").asText());
        assertEquals(1, mixed.get("workers").get("byDialect").get("mdp01").get("idle").asInt());
        assertEquals(1, mixed.get("workers").get("byDialect").get("majortomo").get("idle").asInt());
        assertEquals(1, mixed.get("requestsByClient").get("mdp01").asInt());
        assertEquals(1, mixed.get("requestsByClient").get("majortomo").asInt());
        assertEquals(1, mixed.get("requestsByClient").get("in-process").asInt());

        String metrics = get("/metrics").body();
        PrometheusText samples = PrometheusText.parse(metrics);
        assertTrue(samples.has(1, "mdpgw_broker_workers", "service", "mixed", "dialect", "mdp01", "state", "idle"),
                metrics);
        assertTrue(samples.has(1, "mdpgw_broker_workers", "service", "mixed", "dialect", "majortomo", "state", "idle"),
                metrics);
        assertTrue(samples.has(1, "mdpgw_broker_requests_total", "service", "mixed", "client", "mdp01"), metrics);
        assertTrue(samples.has(1, "mdpgw_broker_requests_total", "service", "mixed", "client", "majortomo"), metrics);
        assertTrue(samples.has(1, "mdpgw_broker_requests_total", "service", "mixed", "client", "in-process"), metrics);
    }

    /** The one of two idle workers that got the next request (the broker picks by LRU). */
    private static DialectWorker takeFromEither(DialectWorker a, DialectWorker b) throws Exception {
        a.socket.setReceiveTimeOut(0);
        b.socket.setReceiveTimeOut(0);
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < end) {
                for (DialectWorker w : List.of(a, b)) {
                    List<byte[]> msg = RawFrames.receive(w.socket);
                    if (msg == null) {
                        continue;
                    }
                    if (msg.get(2)[0] == w.dialect.heartbeat) {
                        w.command(w.dialect.heartbeat);
                    } else {
                        assertEquals(w.dialect.request, msg.get(2)[0], "expected a REQUEST");
                        w.client = msg.get(3);
                        return w;
                    }
                }
                Thread.sleep(5);
            }
            throw new AssertionError("no worker got the request");
        } finally {
            a.socket.setReceiveTimeOut(10_000);
            b.socket.setReceiveTimeOut(10_000);
        }
    }

    private static void assertFrames(List<byte[]> actual, Object... expected) {
        assertNotNull(actual, "no reply");
        assertEquals(expected.length, actual.size(), "frame count");
        for (int i = 0; i < expected.length; i++) {
            byte[] e = expected[i] instanceof byte[] b ? b : ((String) expected[i]).getBytes(UTF_8);
            assertArrayEquals(e, actual.get(i), "frame " + i);
        }
    }
}
