package org.mdpgateway.broker;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * Random and near-valid messages in every dialect the broker speaks, from several raw sockets at
 * once, then a normal round trip. The broker must stay up, answer, leave no request queued or in
 * flight, and give its memory back. {@code -Dfuzz.messages=N} sets how many (default 100,000; the
 * {@code fuzz} profile sends two million); {@code -Dfuzz.seed=S} replays a run, whose seed a failure
 * names.
 */
class BrokerFuzzIT {
    private static final int MESSAGES = Integer.getInteger("fuzz.messages", 100_000);
    private static final int SOCKETS = 8;
    private static final String[] HEADERS = {"MDPC02", "MDPW02", "MDPC01", "MDPW01", "MDPC03", "MDPW0", ""};

    @Test
    void hostileMessagesInEveryDialect_leaveTheBrokerServingAndItsMemoryWhereItWas() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        String replay = "replay with -Dfuzz.seed=" + seed;
        BrokerConfig config = BrokerConfig.defaults("tcp://127.0.0.1:*")
                .withHeartbeat(Duration.ofMillis(200), 3)
                .withRequestExpiry(Duration.ofMillis(500))
                .withByteLimits(1 << 20, 64 << 20);
        try (Broker broker = Broker.start(config);
                ZContext context = new ZContext(1)) {
            String endpoint = broker.boundEndpoints().get(0);
            try (MdpWorker echo = MdpWorker.builder(endpoint, "echo").heartbeatInterval(Duration.ofMillis(200))
                            .start((request, partials) -> request);
                    MdpClient client = MdpClient.builder(endpoint).timeout(Duration.ofSeconds(2)).attempts(5).build()) {
                assertEquals("warm", client.request("echo", Body.ofStrings("warm")).finalBody().string(0));
                long heapBefore = usedHeapAfterGc();

                List<ZMQ.Socket> sockets = new ArrayList<>();
                for (int i = 0; i < SOCKETS; i++) {
                    ZMQ.Socket s = context.createSocket(SocketType.DEALER);
                    s.setLinger(10_000); // closed right after the last send: what is queued still goes
                    s.setSndHWM(1000); // and sending waits for the broker rather than queueing it all here
                    s.setRcvHWM(1000); // what the broker answers is not read: let it drop here, not pile up
                    s.connect(endpoint);
                    sockets.add(s);
                }
                Random random = new Random(seed);
                for (int n = 0; n < MESSAGES; n++) {
                    int index = random.nextInt(SOCKETS);
                    ZMQ.Socket socket = sockets.get(index);
                    // Each socket mostly speaks one dialect, as a real peer does; one message in ten switches.
                    List<byte[]> frames = message(random, random.nextInt(10) == 0 ? random.nextInt(3) : index % 3);
                    for (int f = 0; f < frames.size(); f++) {
                        socket.send(frames.get(f), f < frames.size() - 1 ? ZMQ.SNDMORE : 0);
                    }
                    if (n % 20_000 == 0) {
                        assertTrue(broker.isRunning(), "the broker stopped after " + n + " messages; " + replay);
                    }
                }
                sockets.forEach(ZMQ.Socket::close);

                assertTrue(broker.isRunning(), replay);
                assertEquals("after", client.request("echo", Body.ofStrings("after")).finalBody().string(0), replay);
                // Everything the fuzz queued expires (500 ms), its peers are forgotten, and every worker
                // it registered is buried (600 ms of silence).
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                List<ServiceStats> stats = broker.stats().get(5, TimeUnit.SECONDS);
                long received;
                long receivedBefore = -1;
                while (true) {
                    Thread.sleep(300);
                    stats = broker.stats().get(5, TimeUnit.SECONDS);
                    received = requestsReceived(stats);
                    boolean drained = received == receivedBefore; // the sockets' queues have emptied
                    receivedBefore = received;
                    if ((drained && settled(stats)) || System.nanoTime() > end) {
                        break;
                    }
                }
                assertTrue(settled(stats), "requests left queued or in flight: " + stats + "; " + replay);
                assertTrue(received > MESSAGES / 20, "only " + received + " requests of " + MESSAGES
                        + " messages reached the broker: the fuzz did not get through; " + replay);
                assertEquals("echo", client.request("echo", Body.ofStrings("echo")).finalBody().string(0), replay);

                long heapAfter = usedHeapAfterGc();
                assertTrue(heapAfter - heapBefore < 32 << 20, "heap grew by " + (heapAfter - heapBefore) / 1024
                        + " KiB over " + MESSAGES + " messages; " + replay);
            }
        }
    }

    private static long requestsReceived(List<ServiceStats> stats) {
        long n = 0;
        for (ServiceStats s : stats) {
            for (long count : s.requestsByClient().values()) {
                n += count;
            }
        }
        return n;
    }

    private static boolean settled(List<ServiceStats> stats) {
        for (ServiceStats s : stats) {
            if (s.queued() != 0 || s.inFlight() != 0) {
                return false;
            }
        }
        return true;
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    /** One message: random bytes, or a near miss of a valid command in one of the dialects. */
    private static List<byte[]> message(Random r, int dialect) {
        List<byte[]> frames = new ArrayList<>();
        switch (r.nextInt(10)) {
            case 0 -> { // noise
                int count = 1 + r.nextInt(8);
                for (int i = 0; i < count; i++) {
                    frames.add(bytes(r, r.nextInt(64)));
                }
            }
            case 1 -> { // a known header, a command byte anywhere in 0..255
                frames.add(header(r));
                frames.add(new byte[] {(byte) r.nextInt(256)});
                addSome(r, frames, r.nextInt(5));
            }
            case 2 -> { // a request to a service, maybe oversized, with a body of any size up to 64 KiB
                clientRequest(dialect, frames);
                frames.add(r.nextInt(10) == 0 ? bytes(r, 256 + r.nextInt(512)) : name(r));
                frames.add(bytes(r, r.nextInt(10) == 0 ? r.nextInt(65_536) : r.nextInt(32)));
            }
            case 3 -> { // READY for some service, or an mmi. one, or a name too long
                dialectPrefix(dialect, frames, "MDPW");
                frames.add(new byte[] {1});
                int kind = r.nextInt(4);
                frames.add(kind == 0 ? "mmi.service".getBytes(US_ASCII) : kind == 1 ? bytes(r, 300) : name(r));
            }
            case 4 -> { // a reply for a client nobody knows, from a worker that may not exist
                dialectPrefix(dialect, frames, "MDPW");
                frames.add(new byte[] {(byte) (3 + r.nextInt(2))});
                frames.add(bytes(r, 1 + r.nextInt(16)));
                frames.add(new byte[0]);
                addSome(r, frames, 1 + r.nextInt(3));
            }
            case 5 -> { // heartbeat or disconnect, with stray frames or none
                dialectPrefix(dialect, frames, "MDPW");
                frames.add(new byte[] {(byte) (5 + r.nextInt(2))});
                addSome(r, frames, r.nextInt(2));
            }
            case 6 -> { // a huge frame count
                dialectPrefix(dialect, frames, r.nextBoolean() ? "MDPC" : "MDPW");
                frames.add(new byte[] {(byte) (1 + r.nextInt(6))});
                int count = 100 + r.nextInt(900);
                for (int i = 0; i < count; i++) {
                    frames.add(bytes(r, r.nextInt(4)));
                }
            }
            case 7 -> { // missing frames: a valid command cut short
                dialectPrefix(dialect, frames, r.nextBoolean() ? "MDPC" : "MDPW");
                if (r.nextBoolean()) {
                    frames.add(new byte[] {(byte) (1 + r.nextInt(6))});
                }
            }
            case 8 -> { // mmi requests, well formed or not
                clientRequest(dialect, frames);
                frames.add(("mmi." + (r.nextBoolean() ? "service" : "nope")).getBytes(US_ASCII));
                addSome(r, frames, r.nextInt(3));
            }
            default -> { // a request to the live echo worker, in a dialect picked at random
                clientRequest(dialect, frames);
                frames.add("echo".getBytes(US_ASCII));
                frames.add(bytes(r, r.nextInt(16)));
            }
        }
        return frames;
    }

    /**
     * The frames of a client REQUEST up to its service name: 18/MDP {@code MDPC02 0x01}; MDP/0.1
     * {@code "" MDPC01} with no command byte; majortomo {@code "" MDPC02 0x02}.
     */
    private static void clientRequest(int dialect, List<byte[]> frames) {
        dialectPrefix(dialect, frames, "MDPC");
        if (dialect == 0) {
            frames.add(new byte[] {1});
        } else if (dialect == 2) {
            frames.add(new byte[] {2});
        }
    }

    /** 18/MDP starts with the header; MDP/0.1 and majortomo with an empty frame, then theirs. */
    private static void dialectPrefix(int dialect, List<byte[]> frames, String role) {
        switch (dialect) {
            case 0 -> frames.add((role + "02").getBytes(US_ASCII));
            case 1 -> {
                frames.add(new byte[0]);
                frames.add((role + "01").getBytes(US_ASCII));
            }
            default -> {
                frames.add(new byte[0]);
                frames.add((role + "02").getBytes(US_ASCII));
            }
        }
    }

    private static byte[] header(Random r) {
        return HEADERS[r.nextInt(HEADERS.length)].getBytes(US_ASCII);
    }

    private static byte[] name(Random r) {
        return ("svc-" + r.nextInt(50)).getBytes(US_ASCII);
    }

    private static void addSome(Random r, List<byte[]> frames, int count) {
        for (int i = 0; i < count; i++) {
            frames.add(bytes(r, r.nextInt(24)));
        }
    }

    private static byte[] bytes(Random r, int length) {
        byte[] b = new byte[length];
        r.nextBytes(b);
        return b;
    }
}
