package org.mdpgateway.broker;

import static org.mdpgateway.testing.RawFrames.describe;

import org.mdpgateway.testing.RawFrames;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.mdpgateway.mdp.Dialect;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The broker's three Majordomo dialects on the wire: 18/MDP v0.2, MDP/0.1 as the zguide's mdcliapi
 * and mdwrkapi speak it, and majortomo's MDP v0.2 with an empty frame first.
 *
 * <p>An in-process {@link Broker} binds {@code tcp://127.0.0.1:*}; every client and worker is a raw
 * JeroMQ DEALER (or, for the zguide's client, a REQ) whose frames this test writes and checks one
 * by one. Nothing of the project's codec, client or worker is used: {@link Wire} spells out each
 * dialect's frames here, independently. What is checked: any client dialect reaches any worker
 * dialect; each peer hears every command (REQUEST, replies, HEARTBEAT, DISCONNECT, MMI) in its own
 * dialect; a peer's dialect is fixed by its first message; an MDP/0.1 client gets a worker's
 * PARTIALs collected into one reply, up to the broker's limit; a request held by a dead MDP/0.1
 * worker is resent.
 *
 * <p>The broker heartbeats every {@value #HEARTBEAT_MS} ms and buries a worker after {@value #LIVENESS}
 * silent intervals (a busy MDP/0.1 or majortomo worker after {@value #BUSY_EXPIRY_MS} ms). Workers
 * meant to stay registered send a HEARTBEAT in their own dialect every {@value #WORKER_HEARTBEAT_MS} ms
 * whenever the test waits for anything (see {@link #pump()}). Time bounds are generous upper bounds.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BrokerDialectsIT {
    private static final int HEARTBEAT_MS = 200;
    private static final int LIVENESS = 3;
    private static final int BUSY_EXPIRY_MS = 1500;
    private static final int WORKER_HEARTBEAT_MS = 100;
    private static final int MAX_COLLECTED_BYTES = 1024;
    /** The longest a silent idle worker may stay registered: liveness x interval, plus a tick. */
    private static final Duration WORKER_DEATH = Duration.ofMillis((long) HEARTBEAT_MS * (LIVENESS + 1));

    /** Wait for something that must happen. */
    private static final Duration SOON = Duration.ofSeconds(5);
    /** Wait for something that must not happen. */
    private static final Duration QUIET = Duration.ofMillis(600);

    private static final byte[] EMPTY = new byte[0];
    private static final byte[] MDPC01 = ascii("MDPC01");
    private static final byte[] MDPW01 = ascii("MDPW01");
    private static final byte[] MDPC02 = ascii("MDPC02");
    private static final byte[] MDPW02 = ascii("MDPW02");
    private static final byte[] BINARY = {0x00, (byte) 0xff, (byte) 0x80, 0x01, 0x7f, 0x0a, 0x00};

    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private final List<Peer> peers = new ArrayList<>();
    private Broker broker;
    private String endpoint;
    private ZContext context;
    private Peer probe;

    // ---- the dialects, as this test writes them --------------------------------------------------

    /**
     * The frames of each dialect as a DEALER peer sends and receives them (the ROUTER adds and strips
     * the routing id), written out from the dialect rules, not from the project's codec.
     */
    private enum Wire {
        MDP02(Dialect.MDP_02),
        MDP01(Dialect.MDP_01),
        MAJORTOMO(Dialect.MAJORTOMO);

        /** The project's name of this dialect, for its stats only. */
        final Dialect dialect;

        Wire(Dialect dialect) {
            this.dialect = dialect;
        }

        int ready() {
            return 0x01;
        }

        int request() {
            return 0x02;
        }

        int partial() {
            if (this == MDP01) {
                throw new IllegalStateException("MDP/0.1 has no PARTIAL");
            }
            return 0x03;
        }

        /** FINAL; MDP/0.1 calls it REPLY. */
        int fin() {
            return this == MDP01 ? 0x03 : 0x04;
        }

        int heartbeat() {
            return this == MDP01 ? 0x04 : 0x05;
        }

        int disconnect() {
            return this == MDP01 ? 0x05 : 0x06;
        }

        /** A worker command: 18/MDP {@code "MDPW02", cmd, ...}; the others an empty frame first. */
        List<byte[]> worker(int command, byte[]... rest) {
            List<byte[]> frames = new ArrayList<>();
            switch (this) {
                case MDP02 -> frames.add(MDPW02);
                case MDP01 -> frames.addAll(List.of(EMPTY, MDPW01));
                case MAJORTOMO -> frames.addAll(List.of(EMPTY, MDPW02));
            }
            frames.add(cmd(command));
            frames.addAll(Arrays.asList(rest));
            return frames;
        }

        /** REQUEST, PARTIAL or FINAL between broker and worker: command, client, "", body. */
        List<byte[]> addressed(int command, byte[] client, byte[]... body) {
            return worker(command, concat(frames(client, EMPTY), body));
        }

        /** Where a worker finds the client address in a REQUEST. */
        byte[] clientOf(List<byte[]> request) {
            return request.get(this == MDP02 ? 2 : 3);
        }

        List<byte[]> clientRequest(String service, byte[]... body) {
            return switch (this) {
                case MDP02 -> list(concat(frames(MDPC02, cmd(0x01), bytes(service)), body));
                case MDP01 -> list(concat(frames(EMPTY, MDPC01, bytes(service)), body));
                case MAJORTOMO -> list(concat(frames(EMPTY, MDPC02, cmd(0x02), bytes(service)), body));
            };
        }

        /** The one reply of MDP/0.1; the FINAL of the others (majortomo names no service). */
        List<byte[]> clientFinal(String service, byte[]... body) {
            return switch (this) {
                case MDP02 -> list(concat(frames(MDPC02, cmd(0x03), bytes(service)), body));
                case MDP01 -> list(concat(frames(EMPTY, MDPC01, bytes(service)), body));
                case MAJORTOMO -> list(concat(frames(EMPTY, MDPC02, cmd(0x04)), body));
            };
        }

        List<byte[]> clientPartial(String service, byte[]... body) {
            return switch (this) {
                case MDP02 -> list(concat(frames(MDPC02, cmd(0x02), bytes(service)), body));
                case MDP01 -> throw new IllegalStateException("MDP/0.1 has no PARTIAL");
                case MAJORTOMO -> list(concat(frames(EMPTY, MDPC02, cmd(0x03)), body));
            };
        }

        /** The next dialect, for a peer that switches. */
        Wire other() {
            return values()[(ordinal() + 1) % values().length];
        }

        String label() {
            return name().toLowerCase();
        }
    }

    // ---- lifecycle -----------------------------------------------------------------------------

    @BeforeEach
    void startBroker() {
        BrokerConfig config = BrokerConfig.defaults("tcp://127.0.0.1:*")
                .withHeartbeat(Duration.ofMillis(HEARTBEAT_MS), LIVENESS)
                .withBusyWorkerExpiry(Duration.ofMillis(BUSY_EXPIRY_MS))
                .withMaxCollectedReplyBytes(MAX_COLLECTED_BYTES);
        broker = Broker.start(config);
        endpoint = broker.boundEndpoints().get(0);
        assertTrue(endpoint.startsWith("tcp://127.0.0.1:") && !endpoint.endsWith(":*"), endpoint);
        context = new ZContext(1);
    }

    @AfterEach
    void stopAll() {
        try {
            if (broker != null) {
                broker.close();
            }
        } finally {
            for (Peer peer : peers) {
                peer.socket.close();
            }
            peers.clear();
            context.close();
        }
    }

    // ---- 1. every client dialect to every worker dialect ----------------------------------------

    /** One pairing of test 1: a client of one dialect asking a service whose workers speak another. */
    private record Pairing(Peer client, Wire clientWire, Wire workerWire) {}

    @Test
    void everyClientDialect_reachesEveryWorkerDialect_allAtTheSameTime() {
        // One service per worker dialect, with one worker for each client dialect, so that all nine
        // requests are with workers at once.
        Map<Wire, List<Peer>> workersOf = new HashMap<>();
        for (Wire workerWire : Wire.values()) {
            List<Peer> workers = new ArrayList<>();
            for (int i = 0; i < Wire.values().length; i++) {
                workers.add(readyWorker(workerWire, serviceOf(workerWire)));
            }
            workersOf.put(workerWire, workers);
        }
        Map<String, Pairing> pairings = new HashMap<>();
        for (Wire workerWire : Wire.values()) {
            for (Wire clientWire : Wire.values()) {
                Peer client = client(clientWire, "client-" + clientWire.label() + "-to-" + workerWire.label());
                pairings.put(text(client.identity), new Pairing(client, clientWire, workerWire));
                client.send(clientWire.clientRequest(serviceOf(workerWire), bytes(greeting(client)), EMPTY, BINARY));
            }
        }

        for (Wire workerWire : Wire.values()) {
            Set<String> served = new HashSet<>();
            for (Peer worker : workersOf.get(workerWire)) {
                List<byte[]> request = worker.expect(SOON, "a REQUEST");
                Pairing pairing = pairings.get(text(workerWire.clientOf(request)));
                assertNotNull(pairing, "a REQUEST with an unknown client address: " + describe(request));
                assertEquals(workerWire, pairing.workerWire(), "a REQUEST for another service: " + describe(request));
                assertTrue(served.add(text(pairing.client().identity)), "two workers got one request");
                assertFrames(request, workerWire.addressed(workerWire.request(), pairing.client().identity,
                        bytes(greeting(pairing.client())), EMPTY, BINARY));
            }
        }

        // Every worker replies while all nine are busy.
        Map<String, Peer> workerOfClient = new HashMap<>();
        for (Wire workerWire : Wire.values()) {
            for (Peer worker : workersOf.get(workerWire)) {
                workerOfClient.put(text(worker.currentClient), worker);
                worker.replyFinal(bytes("reply from " + worker), BINARY);
            }
        }
        for (Pairing pairing : pairings.values()) {
            Peer worker = workerOfClient.get(text(pairing.client().identity));
            assertFrames(pairing.client().expect(SOON, "the reply"), pairing.clientWire().clientFinal(
                    serviceOf(pairing.workerWire()), bytes("reply from " + worker), BINARY));
        }
        for (Pairing pairing : pairings.values()) {
            pairing.client().expectNothing(Duration.ZERO, "after its one reply");
        }
        for (Wire workerWire : Wire.values()) {
            ServiceStats stats = stats(serviceOf(workerWire));
            assertEquals(Map.of(workerWire.dialect, new ServiceStats.WorkerCounts(3, 0)), stats.workersByDialect());
            assertEquals(Map.of("mdp02", 1L, "mdp01", 1L, "majortomo", 1L), stats.requestsByClient());
            assertEquals(3, stats.served());
        }
    }

    private static String serviceOf(Wire workerWire) {
        return "echo." + workerWire.label();
    }

    private static String greeting(Peer client) {
        return "hello from " + text(client.identity);
    }

    // ---- 2. a REQ socket as the zguide's mdcliapi -----------------------------------------------

    @Test
    void reqSocketMdp01Client_getsExactlyOneReplyPerRequest_andCanAskAgain() {
        String service = "zguide-echo";
        Peer worker = readyWorker(Wire.MDP02, service);
        Peer req = reqClient("zguide-client");

        // A REQ socket adds the empty frame itself: it sends "MDPC01", service, body.
        req.send(frames(MDPC01, bytes(service), bytes("first")));
        assertFrames(worker.expect(SOON, "the first REQUEST"),
                Wire.MDP02.addressed(0x02, req.identity, bytes("first")));
        // The worker streams: the REQ client must still get one reply, so that it can ask again.
        worker.send(Wire.MDP02.addressed(0x03, req.identity, bytes("first, part 1")));
        worker.send(Wire.MDP02.addressed(0x04, req.identity, bytes("first, the end")));
        assertFrames(req.expect(SOON, "the first reply"),
                frames(MDPC01, bytes(service), bytes("first, part 1"), bytes("first, the end")));

        // A second reply to the first request would be read here instead of the second reply.
        req.send(frames(MDPC01, bytes(service), bytes("second")));
        assertFrames(worker.expect(SOON, "the second REQUEST"),
                Wire.MDP02.addressed(0x02, req.identity, bytes("second")));
        worker.send(Wire.MDP02.addressed(0x04, req.identity, bytes("second reply"), EMPTY));
        assertFrames(req.expect(SOON, "the second reply"), frames(MDPC01, bytes(service), bytes("second reply"), EMPTY));
    }

    // ---- 3. MMI ------------------------------------------------------------------------------------

    @Test
    void mmi_answersEveryClientDialectInItsDialect_200_404_501() {
        readyWorker(Wire.MDP02, "known");
        for (Wire wire : Wire.values()) {
            Peer client = client(wire, "mmi-client-" + wire.label());
            client.send(wire.clientRequest("mmi.service", bytes("known")));
            assertFrames(client.expect(SOON, "mmi.service 200"), wire.clientFinal("mmi.service", bytes("200")));
            client.send(wire.clientRequest("mmi.service", bytes("unknown")));
            assertFrames(client.expect(SOON, "mmi.service 404"), wire.clientFinal("mmi.service", bytes("404")));
            client.send(wire.clientRequest("mmi.other", bytes("known")));
            assertFrames(client.expect(SOON, "mmi.other 501"), wire.clientFinal("mmi.other", bytes("501")));
            // The reply is the request's frames with the last one replaced by the code.
            client.send(wire.clientRequest("mmi.service", bytes("first frame"), EMPTY, bytes("known")));
            assertFrames(client.expect(SOON, "mmi.service of three frames"),
                    wire.clientFinal("mmi.service", bytes("first frame"), EMPTY, bytes("200")));
            client.expectNothing(QUIET, "after the MMI replies");
        }
    }

    // ---- 4. heartbeats -------------------------------------------------------------------------

    @Test
    void brokerHeartbeatsIdleAndBusyWorkersOfEveryDialect_inTheirDialect_atTheInterval() {
        Map<Wire, Peer> workers = new HashMap<>();
        for (Wire wire : Wire.values()) {
            workers.put(wire, readyWorker(wire, "beat." + wire.label()));
        }
        Duration window = Duration.ofMillis(HEARTBEAT_MS * 10L);
        assertHeartbeatsAtTheInterval(workers, window, "idle");

        for (Wire wire : Wire.values()) {
            Peer client = client(Wire.MDP02, "beat-client-" + wire.label());
            client.send(Wire.MDP02.clientRequest("beat." + wire.label(), bytes("keep me busy")));
            assertFrames(workers.get(wire).expect(SOON, "REQUEST"),
                    wire.addressed(wire.request(), client.identity, bytes("keep me busy")));
        }
        // Shorter than the busy expiry, though the workers heartbeat anyway.
        assertHeartbeatsAtTheInterval(workers, Duration.ofMillis(HEARTBEAT_MS * 5L), "busy");
    }

    /** Reads every worker's socket for {@code window}: only its own HEARTBEATs, about one an interval. */
    private void assertHeartbeatsAtTheInterval(Map<Wire, Peer> workers, Duration window, String state) {
        Map<Wire, Integer> counts = new HashMap<>();
        long deadline = System.nanoTime() + window.toNanos();
        while (System.nanoTime() - deadline < 0) {
            for (Map.Entry<Wire, Peer> entry : workers.entrySet()) {
                Wire wire = entry.getKey();
                List<byte[]> message = entry.getValue().nextRaw(Duration.ofMillis(5));
                if (message != null) {
                    assertFrames(message, wire.worker(wire.heartbeat()));
                    counts.merge(wire, 1, Integer::sum);
                }
            }
        }
        long intervals = window.toMillis() / HEARTBEAT_MS;
        for (Wire wire : Wire.values()) {
            int count = counts.getOrDefault(wire, 0);
            assertTrue(count >= intervals / 3 && count <= intervals + 2, "the " + state + " " + wire
                    + " worker got " + count + " HEARTBEATs in " + window.toMillis() + " ms; expected about " + intervals);
        }
    }

    @Test
    void silentWorkerOfEveryDialect_isBuried_whileAHeartbeatingOneStaysRegistered() {
        for (Wire wire : Wire.values()) {
            readyWorker(wire, "silent." + wire.label()).heartbeating = false;
            readyWorker(wire, "alive." + wire.label());
        }
        for (Wire wire : Wire.values()) {
            awaitMmi("silent." + wire.label(), "404", WORKER_DEATH.plus(SOON));
        }
        idle(WORKER_DEATH.multipliedBy(3)); // several liveness periods
        for (Wire wire : Wire.values()) {
            assertEquals("200", mmi("alive." + wire.label()), "the heartbeating " + wire + " worker");
            assertEquals(Map.of(wire.dialect, new ServiceStats.WorkerCounts(1, 0)),
                    stats("alive." + wire.label()).workersByDialect());
            assertEquals(0, stats("silent." + wire.label()).workers());
        }
    }

    // ---- 5. DISCONNECT --------------------------------------------------------------------------

    @Test
    void workerOfEveryDialectThatSendsDisconnect_isRemoved_andHearsNothingMore() {
        Map<Wire, Peer> workers = new HashMap<>();
        for (Wire wire : Wire.values()) {
            workers.put(wire, readyWorker(wire, "leaving." + wire.label()));
            assertEquals("200", mmi("leaving." + wire.label()));
        }
        for (Wire wire : Wire.values()) {
            Peer worker = workers.get(wire);
            worker.send(wire.worker(wire.disconnect()));
            worker.heartbeating = false;
        }
        for (Wire wire : Wire.values()) {
            awaitMmi("leaving." + wire.label(), "404", SOON);
        }
        for (Wire wire : Wire.values()) {
            // A HEARTBEAT sent just before the broker took the DISCONNECT may still be on its way.
            workers.get(wire).drainHeartbeats(Duration.ofMillis(200));
        }
        for (Wire wire : Wire.values()) {
            workers.get(wire).expectRawNothing(QUIET, "after it sent DISCONNECT");
        }
    }

    @Test
    void heartbeatWithoutReady_getsDisconnectInTheSendersDialect() {
        for (Wire wire : Wire.values()) {
            Peer stranger = peer(wire, "stranger-" + wire.label());
            stranger.send(wire.worker(wire.heartbeat()));
            assertFrames(stranger.expectRaw(SOON, "DISCONNECT"), wire.worker(wire.disconnect()));
            stranger.expectRawNothing(QUIET, "after DISCONNECT");
        }
    }

    @Test
    void readyForAnMmiService_getsDisconnectInTheWorkersDialect() {
        for (Wire wire : Wire.values()) {
            Peer worker = peer(wire, "mmi-worker-" + wire.label());
            worker.send(wire.worker(wire.ready(), bytes("mmi.mine")));
            assertFrames(worker.expectRaw(SOON, "DISCONNECT"), wire.worker(wire.disconnect()));
            worker.expectRawNothing(QUIET, "after DISCONNECT");
        }
        Peer client = client(Wire.MDP02, "mmi-check");
        client.send(Wire.MDP02.clientRequest("mmi.mine", bytes("x")));
        assertFrames(client.expect(SOON, "mmi.mine 501"), Wire.MDP02.clientFinal("mmi.mine", bytes("501")));
    }

    @Test
    void brokerClose_sendsDisconnectToEveryWorkerInItsDialect() {
        Map<Wire, Peer> workers = new HashMap<>();
        for (Wire wire : Wire.values()) {
            workers.put(wire, readyWorker(wire, "closing." + wire.label()));
        }
        broker.close();
        for (Wire wire : Wire.values()) {
            assertFrames(workers.get(wire).expect(SOON, "DISCONNECT as the broker stops"), wire.worker(wire.disconnect()));
        }
    }

    // ---- 6. a peer that switches dialect ------------------------------------------------------

    @Test
    void mdp01WorkerThatSendsAMajortomoHeartbeat_getsTheMdp01Disconnect_andIsRemoved() {
        Peer worker = readyWorker(Wire.MDP01, "switcher");
        assertEquals("200", mmi("switcher"));
        worker.heartbeating = false;
        worker.send(frames(EMPTY, MDPW02, cmd(0x05))); // majortomo HEARTBEAT
        assertFrames(worker.expect(SOON, "DISCONNECT"), frames(EMPTY, MDPW01, cmd(0x05)));
        awaitMmi("switcher", "404", SOON);
        worker.expectRawNothing(QUIET, "after DISCONNECT");
    }

    @Test
    void workerOfEveryDialectThatSwitchesDialect_getsDisconnectInItsFirstDialect() {
        for (Wire first : Wire.values()) {
            for (Wire later : Wire.values()) {
                if (later == first) {
                    continue;
                }
                String service = "switch." + first.label() + "." + later.label();
                Peer worker = readyWorker(first, service);
                worker.heartbeating = false;
                worker.send(later.worker(later.heartbeat()));
                assertFrames(worker.expect(SOON, "DISCONNECT"), first.worker(first.disconnect()));
                awaitMmi(service, "404", SOON);
            }
        }
    }

    @Test
    void clientWhoseSecondRequestIsInAnotherDialect_getsNoReplyToIt_andNoWorkerSeesIt() {
        Peer worker = readyWorker(Wire.MDP02, "steady");
        for (Wire first : Wire.values()) {
            Peer client = client(first, "fickle-" + first.label());
            requestAndReply(client, first, worker, "in " + first.label());

            client.send(first.other().clientRequest("steady", bytes("in " + first.other().label())));
            worker.expectNothing(QUIET, "a REQUEST in a dialect its client did not start with");
            client.expectNothing(Duration.ZERO, "a reply to a request in another dialect");

            // The client keeps its first dialect, and is still served in it.
            requestAndReply(client, first, worker, "again in " + first.label());
        }
    }

    private void requestAndReply(Peer client, Wire clientWire, Peer worker, String body) {
        client.send(clientWire.clientRequest("steady", bytes(body)));
        assertFrames(worker.expect(SOON, "REQUEST " + body), Wire.MDP02.addressed(0x02, client.identity, bytes(body)));
        worker.replyFinal(bytes("re: " + body));
        assertFrames(client.expect(SOON, "reply to " + body), clientWire.clientFinal("steady", bytes("re: " + body)));
    }

    // ---- 7. PARTIALs ---------------------------------------------------------------------------

    @Test
    void mdp01Client_getsTheWorkersPartialsCollectedIntoOneReply_andNothingAfterIt() {
        for (Wire workerWire : List.of(Wire.MDP02, Wire.MAJORTOMO)) {
            String service = "stream." + workerWire.label();
            Peer worker = readyWorker(workerWire, service);
            Peer client = client(Wire.MDP01, "collector-" + workerWire.label());
            client.send(Wire.MDP01.clientRequest(service, bytes("stream to me")));
            assertFrames(worker.expect(SOON, "REQUEST"),
                    workerWire.addressed(workerWire.request(), client.identity, bytes("stream to me")));

            worker.send(workerWire.addressed(workerWire.partial(), client.identity, bytes("part 1a"), bytes("part 1b")));
            worker.send(workerWire.addressed(workerWire.partial(), client.identity, EMPTY, BINARY));
            client.expectNothing(QUIET, "a reply before the FINAL");
            worker.send(workerWire.addressed(workerWire.fin(), client.identity, bytes("the end")));

            assertFrames(client.expect(SOON, "the one collected reply"), Wire.MDP01.clientFinal(service,
                    bytes("part 1a"), bytes("part 1b"), EMPTY, BINARY, bytes("the end")));
            client.expectNothing(QUIET, "after the one reply");
            assertEquals(1, stats(service).served());
        }
    }

    @Test
    void mdp01Client_getsNothing_whenTheCollectedReplyPassesTheLimit() {
        String service = "big";
        Peer worker = readyWorker(Wire.MDP02, service);
        Peer client = client(Wire.MDP01, "big-collector");
        byte[] part = new byte[MAX_COLLECTED_BYTES - 24];
        Arrays.fill(part, (byte) 'p');

        // Exactly the limit: one reply.
        client.send(Wire.MDP01.clientRequest(service, bytes("at the limit")));
        worker.expect(SOON, "REQUEST at the limit");
        worker.send(Wire.MDP02.addressed(0x03, client.identity, part));
        worker.send(Wire.MDP02.addressed(0x04, client.identity, new byte[24]));
        assertFrames(client.expect(SOON, "the reply of exactly the limit"),
                Wire.MDP01.clientFinal(service, part, new byte[24]));

        // One byte more: nothing, and the worker is free for the next request.
        client.send(Wire.MDP01.clientRequest(service, bytes("past the limit")));
        worker.expect(SOON, "REQUEST past the limit");
        worker.send(Wire.MDP02.addressed(0x03, client.identity, part));
        worker.send(Wire.MDP02.addressed(0x04, client.identity, new byte[25]));
        client.expectNothing(QUIET, "a reply past the limit");
        assertEquals(1, stats(service).failed());

        client.send(Wire.MDP01.clientRequest(service, bytes("small")));
        assertFrames(worker.expect(SOON, "the next REQUEST"),
                Wire.MDP02.addressed(0x02, client.identity, bytes("small")));
        worker.send(Wire.MDP02.addressed(0x04, client.identity, bytes("small reply")));
        assertFrames(client.expect(SOON, "the small reply"), Wire.MDP01.clientFinal(service, bytes("small reply")));
    }

    @Test
    void streamingClients_getEachPartialLive_beforeTheWorkerSendsTheNext() {
        for (Wire clientWire : List.of(Wire.MAJORTOMO, Wire.MDP02)) {
            for (Wire workerWire : List.of(Wire.MDP02, Wire.MAJORTOMO)) {
                String service = "live." + clientWire.label() + "." + workerWire.label();
                Peer worker = readyWorker(workerWire, service);
                Peer client = client(clientWire, "live-" + clientWire.label() + "-" + workerWire.label());
                client.send(clientWire.clientRequest(service, bytes("go")));
                assertFrames(worker.expect(SOON, "REQUEST"),
                        workerWire.addressed(workerWire.request(), client.identity, bytes("go")));

                worker.send(workerWire.addressed(workerWire.partial(), client.identity, bytes("one"), EMPTY));
                assertFrames(client.expect(SOON, "PARTIAL one"), clientWire.clientPartial(service, bytes("one"), EMPTY));
                worker.send(workerWire.addressed(workerWire.partial(), client.identity, BINARY));
                assertFrames(client.expect(SOON, "PARTIAL two"), clientWire.clientPartial(service, BINARY));
                worker.send(workerWire.addressed(workerWire.fin(), client.identity, bytes("done")));
                assertFrames(client.expect(SOON, "FINAL"), clientWire.clientFinal(service, bytes("done")));
                client.expectNothing(QUIET, "after the FINAL");
            }
        }
    }

    // ---- 8. resend -----------------------------------------------------------------------------

    @Test
    void requestOfADeadMdp01Worker_isResentToAnotherMdp01Worker_afterTheBusyExpiry() {
        String service = "fragile";
        Peer a = readyWorker(Wire.MDP01, service);
        Peer client = client(Wire.MDP01, "resend-client");
        long sentAt = System.nanoTime();
        client.send(Wire.MDP01.clientRequest(service, bytes("idempotent"), BINARY));
        List<byte[]> expected = Wire.MDP01.addressed(0x02, client.identity, bytes("idempotent"), BINARY);
        assertFrames(a.expect(SOON, "REQUEST for worker A"), expected);

        // A dies as an MDP/0.1 worker does: it stops heartbeating and its socket goes away.
        a.heartbeating = false;
        close(a);
        Peer b = readyWorker(Wire.MDP01, service);

        assertFrames(b.expect(Duration.ofMillis(BUSY_EXPIRY_MS).plus(SOON), "the resent REQUEST for worker B"),
                expected);
        long resentAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentAt);
        assertTrue(resentAfterMs >= BUSY_EXPIRY_MS - 50, "resent after " + resentAfterMs
                + " ms, before the busy expiry of " + BUSY_EXPIRY_MS + " ms");
        b.send(Wire.MDP01.addressed(0x03, client.identity, bytes("served by B")));
        assertFrames(client.expect(SOON, "the reply"), Wire.MDP01.clientFinal(service, bytes("served by B")));
        client.expectNothing(QUIET, "a second reply");

        ServiceStats stats = stats(service);
        assertEquals(1, stats.resent());
        assertEquals(1, stats.served());
        assertEquals(0, stats.failed());
        assertEquals(Map.of(Dialect.MDP_01, new ServiceStats.WorkerCounts(1, 0)), stats.workersByDialect());
    }

    // ---- 9. replies without body frames ----------------------------------------------------------

    @Test
    void finalWithNoBodyFrames_reachesEachClientDialectAsItsEmptyReply() {
        for (Wire workerWire : List.of(Wire.MAJORTOMO, Wire.MDP01)) {
            String service = "void." + workerWire.label();
            Peer worker = readyWorker(workerWire, service);
            Map<Wire, List<byte[]>> expectedReply = Map.of(
                    Wire.MDP02, frames(MDPC02, cmd(0x03), bytes(service), EMPTY),
                    Wire.MAJORTOMO, frames(EMPTY, MDPC02, cmd(0x04)),
                    Wire.MDP01, frames(EMPTY, MDPC01, bytes(service), EMPTY));
            for (Wire clientWire : Wire.values()) {
                Peer client = client(clientWire, "void-" + clientWire.label() + "-" + workerWire.label());
                client.send(clientWire.clientRequest(service, bytes("say nothing")));
                assertFrames(worker.expect(SOON, "REQUEST"),
                        workerWire.addressed(workerWire.request(), client.identity, bytes("say nothing")));
                // "", "MDPW02", 0x04, client, "" (majortomo) or "", "MDPW01", 0x03, client, "" (MDP/0.1).
                worker.send(workerWire.worker(workerWire.fin(), client.identity, EMPTY));
                assertFrames(client.expect(SOON, "the empty reply"), expectedReply.get(clientWire));
                client.expectNothing(QUIET, "after the empty reply");
            }
        }
    }

    // ---- helpers: MMI and stats ------------------------------------------------------------------

    /** mmi.service for {@code name}, asked by an 18/MDP client; the code. */
    private String mmi(String name) {
        if (probe == null) {
            probe = client(Wire.MDP02, "mmi-probe");
        }
        probe.send(Wire.MDP02.clientRequest("mmi.service", bytes(name)));
        List<byte[]> reply = probe.expect(SOON, "mmi.service reply");
        assertEquals(4, reply.size(), "mmi.service reply: " + describe(reply));
        assertFrames(reply.subList(0, 3), frames(MDPC02, cmd(0x03), bytes("mmi.service")));
        return text(reply.get(3));
    }

    /** Polls mmi.service until it answers {@code code} for {@code name}. */
    private void awaitMmi(String name, String code, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last;
        do {
            last = mmi(name);
            if (last.equals(code)) {
                return;
            }
            idle(Duration.ofMillis(50));
        } while (System.nanoTime() - deadline < 0);
        fail("mmi.service for '" + name + "' still answers " + last + " after " + timeout.toMillis()
                + " ms; expected " + code);
    }

    private ServiceStats stats(String service) {
        List<ServiceStats> all;
        try {
            all = broker.stats().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("no stats from the broker", e);
        }
        return all.stream().filter(s -> s.service().equals(service)).findFirst()
                .orElseThrow(() -> new AssertionError("no stats for '" + service + "' in " + all));
    }

    // ---- helpers: peers --------------------------------------------------------------------------

    private Peer client(Wire wire, String name) {
        return peer(wire, name);
    }

    /** A worker whose READY the broker has taken: the first thing it hears is its dialect's HEARTBEAT. */
    private Peer readyWorker(Wire wire, String service) {
        Peer worker = peer(wire, "w-" + wire.label() + "-" + service);
        worker.send(wire.worker(wire.ready(), bytes(service)));
        worker.heartbeating = true;
        assertFrames(worker.expectRaw(SOON, "the first HEARTBEAT after READY"), wire.worker(wire.heartbeat()));
        return worker;
    }

    private Peer peer(Wire wire, String name) {
        return connect(SocketType.DEALER, wire, name);
    }

    /** A REQ socket, as the zguide's mdcliapi uses: its socket adds and strips the empty frame. */
    private Peer reqClient(String name) {
        return connect(SocketType.REQ, Wire.MDP01, name);
    }

    /**
     * A socket with the routing id {@code name} plus a sequence number, connected and past its ZMTP
     * handshake, so that what it sends next reaches the broker at once.
     */
    @SuppressWarnings("deprecation") // ZMQ.Event: JeroMQ 0.6.0's monitor events, as BrokerJarIT uses them
    private Peer connect(SocketType type, Wire wire, String name) {
        int n = SEQUENCE.incrementAndGet();
        byte[] identity = ascii(name + "#" + n);
        ZMQ.Socket socket = context.createSocket(type);
        socket.setLinger(0);
        socket.setHandshakeIvl(500);
        socket.setIdentity(identity);
        String monitorAddress = "inproc://broker-dialects-it-monitor-" + n;
        assertTrue(socket.monitor(monitorAddress, ZMQ.EVENT_HANDSHAKE_PROTOCOL), "monitor");
        ZMQ.Socket monitor = context.createSocket(SocketType.PAIR);
        monitor.setLinger(0);
        monitor.setReceiveTimeOut(20);
        monitor.connect(monitorAddress);
        socket.connect(endpoint);
        ZMQ.Event event = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (event == null && System.nanoTime() - deadline < 0) {
            pump(); // workers must not fall silent while a socket connects
            event = ZMQ.Event.recv(monitor);
        }
        socket.monitor(null, 0);
        monitor.close();
        assertNotNull(event, "no ZMTP handshake with " + endpoint + " within 10 s");
        Peer peer = new Peer(socket, identity, wire);
        peers.add(peer);
        return peer;
    }

    private void close(Peer peer) {
        peers.remove(peer);
        peer.socket.close();
    }

    /** Waits, keeping the heartbeating workers alive. */
    private void idle(Duration duration) {
        long deadline = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() - deadline < 0) {
            pump();
            sleep(Math.min(20, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
        }
    }

    /** Sends a HEARTBEAT, in its dialect, from every heartbeating worker that has sent nothing lately. */
    private void pump() {
        long now = System.nanoTime();
        for (Peer peer : peers) {
            if (peer.heartbeating && now - peer.lastSentAt >= TimeUnit.MILLISECONDS.toNanos(WORKER_HEARTBEAT_MS)) {
                peer.send(peer.wire.worker(peer.wire.heartbeat()));
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** One client or worker socket of one dialect. Used on the test thread only. */
    private final class Peer {
        final ZMQ.Socket socket;
        final byte[] identity;
        final Wire wire;
        /** Whether {@link #pump} sends HEARTBEATs for it: a registered worker that is meant to live. */
        boolean heartbeating;
        long lastSentAt = System.nanoTime();
        /** For a worker: the client address of the last REQUEST it received. */
        byte[] currentClient;

        Peer(ZMQ.Socket socket, byte[] identity, Wire wire) {
            this.socket = socket;
            this.identity = identity;
            this.wire = wire;
        }

        void send(List<byte[]> frames) {
            for (int i = 0; i < frames.size(); i++) {
                assertTrue(socket.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0), "send");
            }
            lastSentAt = System.nanoTime();
        }

        /** A worker's FINAL to the client of its last REQUEST. */
        void replyFinal(byte[]... body) {
            assertNotNull(currentClient, this + " has no request to reply to");
            send(wire.addressed(wire.fin(), currentClient, body));
        }

        /** The next message other than this dialect's exact HEARTBEAT, or null. */
        List<byte[]> next(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                List<byte[]> message = nextRaw(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
                if (message == null || !isOwn(message, wire.heartbeat())) {
                    return message;
                }
            }
        }

        /** The next message, HEARTBEATs included, or null; the heartbeating workers heartbeat meanwhile. */
        List<byte[]> nextRaw(Duration timeout) {
            List<byte[]> message = RawFrames.receive(socket, timeout, BrokerDialectsIT.this::pump);
            if (message != null) {
                noteReceived(message);
            }
            return message;
        }

        private void noteReceived(List<byte[]> message) {
            List<byte[]> requestHead = wire.worker(wire.request());
            if (isOwn(message, wire.disconnect())) {
                heartbeating = false; // a worker sends nothing after DISCONNECT
            } else if (message.size() > requestHead.size()
                    && describe(message.subList(0, requestHead.size())).equals(describe(requestHead))) {
                currentClient = wire.clientOf(message);
            }
        }

        /** Whether {@code message} is exactly this dialect's worker command {@code command}, no more frames. */
        private boolean isOwn(List<byte[]> message, int command) {
            return describe(message).equals(describe(wire.worker(command)));
        }

        List<byte[]> expect(Duration timeout, String what) {
            List<byte[]> message = next(timeout);
            assertNotNull(message, this + " expected " + what + " within " + timeout.toMillis() + " ms");
            return message;
        }

        List<byte[]> expectRaw(Duration timeout, String what) {
            List<byte[]> message = nextRaw(timeout);
            assertNotNull(message, this + " expected " + what + " within " + timeout.toMillis() + " ms");
            return message;
        }

        void expectNothing(Duration timeout, String what) {
            List<byte[]> message = next(timeout);
            if (message != null) {
                fail(this + " got an unexpected message (" + what + "): " + describe(message));
            }
        }

        void expectRawNothing(Duration timeout, String what) {
            List<byte[]> message = nextRaw(timeout);
            if (message != null) {
                fail(this + " got an unexpected message (" + what + "): " + describe(message));
            }
        }

        /** Reads for {@code duration}, failing on anything but this dialect's exact HEARTBEAT. */
        void drainHeartbeats(Duration duration) {
            long deadline = System.nanoTime() + duration.toNanos();
            List<byte[]> message;
            while ((message = nextRaw(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) != null) {
                assertTrue(isOwn(message, wire.heartbeat()), this + " expected nothing but HEARTBEAT: "
                        + describe(message));
            }
        }

        @Override
        public String toString() {
            return text(identity) + " (" + wire + ")";
        }
    }

    // ---- helpers: frames -------------------------------------------------------------------------

    private static byte[] cmd(int command) {
        return new byte[] {(byte) command};
    }

    private static byte[] bytes(String s) {
        return s.getBytes(UTF_8);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(US_ASCII);
    }

    private static String text(byte[] frame) {
        return new String(frame, UTF_8);
    }

    private static List<byte[]> frames(byte[]... frames) {
        return List.of(frames);
    }

    private static List<byte[]> list(byte[][] frames) {
        return List.of(frames);
    }

    private static byte[][] concat(List<byte[]> head, byte[]... tail) {
        List<byte[]> all = new ArrayList<>(head);
        all.addAll(Arrays.asList(tail));
        return all.toArray(new byte[0][]);
    }

    private static void assertFrames(List<byte[]> actual, List<byte[]> expected) {
        assertEquals(describe(expected), describe(actual));
    }
}
