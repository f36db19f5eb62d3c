package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.MdpException;
import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.mdpgateway.broker.Broker;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.ServiceStats;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The soak: {@code soak.seconds} (300 with {@code -Psoak}) of mixed HTTP and native load while
 * workers come and go, some of them dying mid-request, and the native clients' broker restarts once.
 * Every request must end in exactly one outcome (a right reply or a clean failure, never silence or a
 * wrong body), queues and requests in flight must come back to zero, and heap and threads must not
 * grow. Off unless {@code soak.seconds} is set.
 */
@EnabledIfSystemProperty(named = "soak.seconds", matches = "[0-9]+")
class SoakIT {
    private static final Duration HEARTBEAT = Duration.ofMillis(250);
    private static final int HTTP_LOADERS = 4;
    private static final int NATIVE_LOADERS = 2;
    private static final int WORKERS_PER_SERVICE = 3;

    private final long seconds = Long.getLong("soak.seconds", 300);
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
    private final List<String> defects = new CopyOnWriteArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();

    @Test
    void mixedLoadWithWorkerChurnAndABrokerRestart_everyRequestEndsOnce_andNothingGrows() throws Exception {
        BrokerConfig brokerConfig = BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(HEARTBEAT, 3);
        Gateway gateway = Gateway.start(GatewayConfig.defaults(brokerConfig).withHttp("127.0.0.1", 0));
        Broker nativeBroker = Broker.start(brokerConfig);
        String nativeEndpoint = nativeBroker.boundEndpoints().get(0); // the restart binds the same port
        String base = "http://127.0.0.1:" + gateway.httpPort();
        String gatewayBroker = gateway.localBrokerEndpoint();

        List<List<MdpWorker>> pools = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        List<String[]> poolPlaces = List.of(new String[] {gatewayBroker, "echo"},
                new String[] {gatewayBroker, "stream"}, new String[] {nativeEndpoint, "native"});
        for (int p = 0; p < pools.size(); p++) {
            for (int w = 0; w < WORKERS_PER_SERVICE; w++) {
                pools.get(p).add(worker(poolPlaces.get(p)[0], poolPlaces.get(p)[1]));
            }
        }
        MdpClient nativeClient = MdpClient.builder(nativeEndpoint).timeout(Duration.ofSeconds(2)).attempts(3).build();
        List<Thread> loaders = new ArrayList<>();
        for (int t = 0; t < HTTP_LOADERS; t++) {
            loaders.add(loader("http-" + t, n -> httpRequest(base, n)));
        }
        for (int t = 0; t < NATIVE_LOADERS; t++) {
            loaders.add(loader("native-" + t, n -> nativeRequest(nativeClient, n)));
        }
        loaders.forEach(Thread::start);

        long startedAt = System.nanoTime();
        long warmedAt = startedAt + TimeUnit.SECONDS.toNanos(Math.max(2, seconds / 6));
        long restartAt = startedAt + TimeUnit.SECONDS.toNanos(seconds / 2);
        long endAt = startedAt + TimeUnit.SECONDS.toNanos(seconds);
        long heapAtStart = -1;
        int threadsAtStart = -1;
        Random random = new Random(42);
        try (ZContext crashers = new ZContext(1)) {
            while (System.nanoTime() < endAt) {
                Thread.sleep(500);
                // Churn: one worker of a random pool leaves cleanly and another comes.
                int p = random.nextInt(pools.size());
                pools.get(p).remove(0).close();
                pools.get(p).add(worker(poolPlaces.get(p)[0], poolPlaces.get(p)[1]));
                if (random.nextInt(4) == 0) {
                    crashMidRequest(crashers, gatewayBroker);
                }
                if (restartAt != 0 && System.nanoTime() > restartAt) {
                    restartAt = 0;
                    nativeBroker.close();
                    nativeBroker = Broker.start(brokerConfig.withBindEndpoints(List.of(nativeEndpoint)));
                }
                if (heapAtStart < 0 && System.nanoTime() > warmedAt) {
                    heapAtStart = heapAfterGc();
                    threadsAtStart = ManagementFactory.getThreadMXBean().getThreadCount();
                }
            }
            stop.set(true);
            for (Thread loader : loaders) {
                loader.join(30_000);
                assertTrue(!loader.isAlive(), loader.getName() + " is stuck in a request");
            }
            System.out.println("soak of " + seconds + " s: " + outcomes);
            assertEquals(List.of(), defects, "requests without exactly one right outcome");
            long ok = outcomes.getOrDefault("ok", new AtomicLong()).get();
            long all = outcomes.values().stream().mapToLong(AtomicLong::get).sum();
            assertTrue(ok > 0.95 * all, "too many failures: " + outcomes);

            awaitDrained(gateway.broker());
            awaitDrained(nativeBroker);
            // With every worker and client still open, as at the start; only the loaders have ended.
            long heapAtEnd = heapAfterGc();
            int threadsAtEnd = ManagementFactory.getThreadMXBean().getThreadCount();
            pools.forEach(pool -> pool.forEach(MdpWorker::close));
            nativeClient.close();
            System.out.printf("heap after GC %d -> %d KiB, threads %d -> %d%n", heapAtStart / 1024, heapAtEnd / 1024,
                    threadsAtStart, threadsAtEnd);
            assertTrue(heapAtEnd < heapAtStart + 64L * 1024 * 1024, "heap grew from " + heapAtStart + " to " + heapAtEnd);
            assertTrue(threadsAtEnd <= threadsAtStart, "threads grew from " + threadsAtStart + " to " + threadsAtEnd);
        } finally {
            stop.set(true);
            gateway.close();
            nativeBroker.close();
        }
    }

    private interface Request {
        String send(long n) throws Exception;
    }

    /** A thread that sends requests one after another until the soak ends, counting each outcome. */
    private Thread loader(String name, Request request) {
        Thread thread = new Thread(() -> {
            for (long n = 0; !stop.get(); n++) {
                try {
                    outcomes.computeIfAbsent(request.send(n), k -> new AtomicLong()).incrementAndGet();
                } catch (Exception e) {
                    defects.add(name + " request " + n + ": " + e);
                }
            }
        }, "soak-" + name);
        thread.setDaemon(true);
        return thread;
    }

    /** Alternates a raw echo, an NDJSON stream and an SSE stream. */
    private String httpRequest(String base, long n) throws Exception {
        String body = "soak-" + n;
        String service = n % 3 == 0 ? "echo" : "stream";
        String accept = n % 3 == 0 ? "*/*" : n % 3 == 1 ? "application/x-ndjson" : "text/event-stream";
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/services/" + service + "?timeout=10000"))
                .timeout(Duration.ofSeconds(20)).header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString(UTF_8));
        String text = response.body();
        if (response.statusCode() != 200) {
            if (response.statusCode() >= 500 && text.contains("urn:mdp-gateway:problem:")) {
                return "http-" + response.statusCode();
            }
            throw new AssertionError(response.statusCode() + " without a problem body: " + text);
        }
        if (service.equals("echo")) {
            if (!text.equals(body)) {
                throw new AssertionError("echo of " + body + " came back as " + text);
            }
            return "ok";
        }
        long partials = text.lines().filter(l -> l.contains("\"type\":\"partial\"")).count();
        long finals = text.lines().filter(l -> l.contains("\"type\":\"final\"")).count();
        long errors = text.lines().filter(l -> l.contains("\"type\":\"error\"")
                || l.equals("event: error")).count();
        if (finals == 1 && errors == 0 && partials == 3 && text.contains(body)) {
            return "ok";
        }
        if (finals == 0 && errors >= 1) {
            return "in-band-error"; // the worker died after its first PARTIALs: a clean, single outcome
        }
        throw new AssertionError("stream of " + body + " ended with " + partials + " partials, " + finals
                + " finals and " + errors + " errors:\n" + text);
    }

    private String nativeRequest(MdpClient client, long n) {
        String body = "native-" + n;
        try {
            String reply = client.request("native", Body.ofStrings(body)).finalBody().string(0);
            if (!reply.equals(body)) {
                throw new AssertionError("native echo of " + body + " came back as " + reply);
            }
            return "ok";
        } catch (MdpException e) {
            return "native-timeout"; // the broker was restarting: a failure the caller sees, once
        }
    }

    private static MdpWorker worker(String endpoint, String service) {
        return MdpWorker.builder(endpoint, service).heartbeatInterval(HEARTBEAT).reconnectDelay(Duration.ofMillis(100))
                .start((request, partials) -> {
                    if (service.equals("stream")) {
                        for (int i = 0; i < 3; i++) {
                            partials.send(Body.ofStrings("part " + i));
                            Thread.sleep(5);
                        }
                    }
                    return request;
                });
    }

    /**
     * A raw worker, frames built by hand, that takes one echo request and dies holding it: its
     * socket closes with no reply and no DISCONNECT, and the broker must give the request to another
     * worker once this one's heartbeats stop.
     */
    private static void crashMidRequest(ZContext context, String endpoint) {
        ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        socket.setLinger(0);
        socket.setReceiveTimeOut(2000);
        socket.connect(endpoint);
        socket.sendMore("MDPW02");
        socket.sendMore(new byte[] {1});
        socket.send("echo");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (System.nanoTime() < end) {
            byte[] header = socket.recv();
            if (header == null) {
                break;
            }
            byte[] command = socket.recv();
            while (socket.hasReceiveMore()) {
                socket.recv();
            }
            if (command != null && command.length == 1 && command[0] == 2) {
                break; // a REQUEST: die with it
            }
        }
        context.destroySocket(socket);
    }

    private static void awaitDrained(Broker broker) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        List<ServiceStats> stats = broker.stats().get(5, TimeUnit.SECONDS);
        while (System.nanoTime() < end) {
            stats = broker.stats().get(5, TimeUnit.SECONDS);
            if (stats.stream().allMatch(s -> s.queued() == 0 && s.inFlight() == 0)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("requests still queued or in flight after the load stopped: " + stats);
    }

    private static long heapAfterGc() throws InterruptedException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
