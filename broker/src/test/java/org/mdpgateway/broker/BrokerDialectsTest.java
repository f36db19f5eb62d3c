package org.mdpgateway.broker;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.Dialect;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The broker core with peers of every dialect, driven by frames written out by hand (never by the
 * codec under test) and checked frame by frame on the way out, with a hand-moved clock.
 */
class BrokerDialectsTest {
    private static final long MS = 1_000_000L;
    private static final Duration HEARTBEAT = Duration.ofMillis(100);
    private static final RoutingId CLIENT = id("client");
    private static final RoutingId WORKER = id("worker");
    private static final RoutingId WORKER_2 = id("worker-2");

    private final Deque<Sent> sent = new ArrayDeque<>();
    private long now = 1_000 * MS;
    private BrokerConfig config = BrokerConfig.defaults("inproc://unused").withHeartbeat(HEARTBEAT, 3)
            .withMaxCollectedReplyBytes(10);
    private BrokerCore core = newCore();

    /** One message as it leaves the socket: the peer and the frames in that peer's dialect. */
    private record Sent(RoutingId to, List<byte[]> frames) {
        @Override
        public String toString() {
            return to + " " + Frames.show(frames);
        }
    }

    private BrokerCore newCore() {
        return new BrokerCore(config, (to, dialect, command) -> {
            sent.add(new Sent(to, MdpCodec.encode(dialect, command)));
            return null;
        },
                now);
    }

    @AfterEach
    void everythingSentWasChecked() {
        assertEquals(List.of(), new ArrayList<>(sent), "messages sent that the test did not expect");
    }

    // ---- frames, written by hand ---------------------------------------------------------------

    private static RoutingId id(String name) {
        return RoutingId.of(name.getBytes(US_ASCII));
    }

    private static List<byte[]> frames(Object... parts) {
        List<byte[]> frames = new ArrayList<>();
        for (Object p : parts) {
            frames.add(p instanceof byte[] b ? b : p instanceof RoutingId r ? r.toByteArray()
                    : ((String) p).getBytes(US_ASCII));
        }
        return frames;
    }

    private static byte[] b(int value) {
        return new byte[] {(byte) value};
    }

    private void receive(RoutingId from, Object... parts) {
        core.onMessage(from, frames(parts), now);
    }

    private void expect(RoutingId to, Object... parts) {
        Sent next = sent.poll();
        assertNotNull(next, "expected a message to " + to);
        assertEquals(to, next.to());
        List<byte[]> expected = frames(parts);
        assertEquals(Frames.show(expected), Frames.show(next.frames()));
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), next.frames().get(i));
        }
    }

    private void advance(long millis) {
        now += millis * MS;
        core.onTick(now);
    }

    private static final class Frames {
        static String show(List<byte[]> frames) {
            StringBuilder sb = new StringBuilder("[");
            for (byte[] f : frames) {
                sb.append(sb.length() > 1 ? ", " : "").append(f.length == 1 && f[0] < 0x20 ? "0x0" + f[0]
                        : "'" + new String(f, US_ASCII) + "'");
            }
            return sb.append(']').toString();
        }
    }

    // ---- each dialect's worker, as its library writes it ---------------------------------------

    private void ready(Dialect dialect, RoutingId worker, String service) {
        switch (dialect) {
            case MDP_02 -> receive(worker, "MDPW02", b(1), service);
            case MDP_01 -> receive(worker, "", "MDPW01", b(1), service);
            case MAJORTOMO -> receive(worker, "", "MDPW02", b(1), service);
        }
    }

    private void expectRequest(Dialect dialect, RoutingId worker, RoutingId client, String body) {
        switch (dialect) {
            case MDP_02 -> expect(worker, "MDPW02", b(2), client, "", body);
            case MDP_01 -> expect(worker, "", "MDPW01", b(2), client, "", body);
            case MAJORTOMO -> expect(worker, "", "MDPW02", b(2), client, "", body);
        }
    }

    private void finalReply(Dialect dialect, RoutingId worker, RoutingId client, String body) {
        switch (dialect) {
            case MDP_02 -> receive(worker, "MDPW02", b(4), client, "", body);
            case MDP_01 -> receive(worker, "", "MDPW01", b(3), client, "", body);
            case MAJORTOMO -> receive(worker, "", "MDPW02", b(4), client, "", body);
        }
    }

    private void expectHeartbeat(Dialect dialect, RoutingId worker) {
        switch (dialect) {
            case MDP_02 -> expect(worker, "MDPW02", b(5));
            case MDP_01 -> expect(worker, "", "MDPW01", b(4));
            case MAJORTOMO -> expect(worker, "", "MDPW02", b(5));
        }
    }

    private void expectDisconnect(Dialect dialect, RoutingId worker) {
        switch (dialect) {
            case MDP_02 -> expect(worker, "MDPW02", b(6));
            case MDP_01 -> expect(worker, "", "MDPW01", b(5));
            case MAJORTOMO -> expect(worker, "", "MDPW02", b(6));
        }
    }

    /** Heartbeats to WORKER and WORKER_2, both MDP/0.1, in either order. */
    private void expectHeartbeatsToBoth() {
        List<RoutingId> to = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Sent next = sent.poll();
            assertNotNull(next, "expected a heartbeat");
            assertEquals(Frames.show(frames("", "MDPW01", b(4))), Frames.show(next.frames()));
            to.add(next.to());
        }
        assertEquals(java.util.Set.of(WORKER, WORKER_2), java.util.Set.copyOf(to));
    }

    private void heartbeat(Dialect dialect, RoutingId worker) {
        switch (dialect) {
            case MDP_02 -> receive(worker, "MDPW02", b(5));
            case MDP_01 -> receive(worker, "", "MDPW01", b(4));
            case MAJORTOMO -> receive(worker, "", "MDPW02", b(5));
        }
    }

    // ---- each dialect's client -----------------------------------------------------------------

    private void request(Dialect dialect, RoutingId client, String service, String body) {
        switch (dialect) {
            case MDP_02 -> receive(client, "MDPC02", b(1), service, body);
            case MDP_01 -> receive(client, "", "MDPC01", service, body);
            case MAJORTOMO -> receive(client, "", "MDPC02", b(2), service, body);
        }
    }

    private void expectFinal(Dialect dialect, RoutingId client, String service, String... body) {
        List<Object> parts = new ArrayList<>();
        switch (dialect) {
            case MDP_02 -> parts.addAll(List.of("MDPC02", b(3), service));
            case MDP_01 -> parts.addAll(List.of("", "MDPC01", service));
            case MAJORTOMO -> parts.addAll(List.of("", "MDPC02", b(4)));
        }
        parts.addAll(List.of((Object[]) body));
        expect(client, parts.toArray());
    }

    // ---- any client reaches any worker ---------------------------------------------------------

    @Test
    void everyClientDialect_reachesEveryWorkerDialect() {
        for (Dialect workerDialect : Dialect.values()) {
            for (Dialect clientDialect : Dialect.values()) {
                RoutingId worker = id("w-" + workerDialect + "-" + clientDialect);
                RoutingId client = id("c-" + workerDialect + "-" + clientDialect);
                String service = "svc-" + workerDialect;
                ready(workerDialect, worker, service);
                request(clientDialect, client, service, "hello");
                expectRequest(workerDialect, worker, client, "hello");
                finalReply(workerDialect, worker, client, "world");
                expectFinal(clientDialect, client, service, "world");
                receive(worker, workerDialect == Dialect.MDP_02 ? new Object[] {"MDPW02", b(6)}
                        : workerDialect == Dialect.MDP_01 ? new Object[] {"", "MDPW01", b(5)}
                        : new Object[] {"", "MDPW02", b(6)});
            }
        }
    }

    @Test
    void majortomoClient_getsPartialsLive_withNoServiceFrame() {
        ready(Dialect.MDP_02, WORKER, "stream");
        request(Dialect.MAJORTOMO, CLIENT, "stream", "go");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "go");
        receive(WORKER, "MDPW02", b(3), CLIENT, "", "p1");
        expect(CLIENT, "", "MDPC02", b(3), "p1");
        receive(WORKER, "MDPW02", b(3), CLIENT, "", "p2");
        expect(CLIENT, "", "MDPC02", b(3), "p2");
        receive(WORKER, "MDPW02", b(4), CLIENT, "", "end");
        expect(CLIENT, "", "MDPC02", b(4), "end");
    }

    @Test
    void mdp01Client_getsOneReply_withEveryPartsFramesInOrder() {
        ready(Dialect.MAJORTOMO, WORKER, "stream");
        request(Dialect.MDP_01, CLIENT, "stream", "go");
        expectRequest(Dialect.MAJORTOMO, WORKER, CLIENT, "go");
        receive(WORKER, "", "MDPW02", b(3), CLIENT, "", "p1", "p1b");
        receive(WORKER, "", "MDPW02", b(3), CLIENT, "", "p2");
        receive(WORKER, "", "MDPW02", b(4), CLIENT, "");
        expectFinal(Dialect.MDP_01, CLIENT, "stream", "p1", "p1b", "p2");
    }

    @Test
    void mdp01Client_whoseCollectedReplyPassesTheLimit_getsNothing_andTheWorkerServesOn() {
        ready(Dialect.MDP_02, WORKER, "big");
        request(Dialect.MDP_01, CLIENT, "big", "go");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "go");
        receive(WORKER, "MDPW02", b(3), CLIENT, "", "123456");
        receive(WORKER, "MDPW02", b(3), CLIENT, "", "789012"); // 12 bytes collected, limit 10
        receive(WORKER, "MDPW02", b(4), CLIENT, "", "end");
        assertEquals(List.of(), new ArrayList<>(sent), "the client gets nothing");
        ServiceStats stats = core.stats().get(0);
        assertEquals(1, stats.failed());
        assertEquals(0, stats.served());
        assertEquals(1, stats.recentFailures().size(), "the failure is in the ring: " + stats.recentFailures());
        assertEquals(RequestFailure.Reason.REPLY_TOO_LARGE, stats.recentFailures().get(0).reason());
        assertTrue(stats.recentFailures().get(0).detail().contains("10 bytes"), stats.recentFailures().get(0).detail());
        request(Dialect.MDP_01, CLIENT, "big", "small");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "small");
        finalReply(Dialect.MDP_02, WORKER, CLIENT, "ok");
        expectFinal(Dialect.MDP_01, CLIENT, "big", "ok");
    }

    @Test
    void mdp01Client_whoseReplyPassesTheLimitWithItsFinal_isNotedAsTooLarge_notAsAWorkerLost() {
        ready(Dialect.MDP_02, WORKER, "big");
        request(Dialect.MDP_01, CLIENT, "big", "go");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "go");
        receive(WORKER, "MDPW02", b(3), CLIENT, "", "123456");
        receive(WORKER, "MDPW02", b(4), CLIENT, "", "789012"); // the FINAL makes it 12 bytes, limit 10
        assertEquals(List.of(), new ArrayList<>(sent), "the client gets nothing");
        ServiceStats stats = core.stats().get(0);
        assertEquals(1, stats.failed());
        assertEquals(List.of(RequestFailure.Reason.REPLY_TOO_LARGE),
                stats.recentFailures().stream().map(ServiceStats.RecentFailure::reason).toList());
    }

    @Test
    void emptyReplyOfAMajortomoWorker_reachesAn18MdpClientWithOneEmptyFrame() {
        ready(Dialect.MAJORTOMO, WORKER, "svc");
        request(Dialect.MDP_02, CLIENT, "svc", "q");
        expectRequest(Dialect.MAJORTOMO, WORKER, CLIENT, "q");
        receive(WORKER, "", "MDPW02", b(4), CLIENT, "");
        expectFinal(Dialect.MDP_02, CLIENT, "svc", "");
    }

    // ---- MMI, heartbeats, DISCONNECT in each dialect -------------------------------------------

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void mmiService_answersInTheClientsDialect(Dialect dialect) {
        request(dialect, CLIENT, "mmi.service", "echo");
        expectFinal(dialect, CLIENT, "mmi.service", "404");
        ready(Dialect.MDP_01, WORKER, "echo");
        request(dialect, CLIENT, "mmi.service", "echo");
        expectFinal(dialect, CLIENT, "mmi.service", "200");
        request(dialect, CLIENT, "mmi.nothing", "echo");
        expectFinal(dialect, CLIENT, "mmi.nothing", "501");
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void heartbeatsGoOutInTheWorkersDialect_andItsHeartbeatsKeepItAlive(Dialect dialect) {
        ready(dialect, WORKER, "svc");
        for (int i = 0; i < 5; i++) {
            advance(100);
            expectHeartbeat(dialect, WORKER);
            heartbeat(dialect, WORKER);
        }
        assertEquals(1, core.stats().get(0).workers());
        advance(100);
        expectHeartbeat(dialect, WORKER);
        advance(100);
        expectHeartbeat(dialect, WORKER);
        advance(100); // 300 ms of silence: dead
        assertEquals(0, core.stats().get(0).workers());
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void disconnect_removesTheWorker_andAStrangersCommandGetsDisconnectInItsDialect(Dialect dialect) {
        ready(dialect, WORKER, "svc");
        receive(WORKER, dialect == Dialect.MDP_02 ? new Object[] {"MDPW02", b(6)}
                : dialect == Dialect.MDP_01 ? new Object[] {"", "MDPW01", b(5)} : new Object[] {"", "MDPW02", b(6)});
        assertEquals(0, core.stats().get(0).workers());
        heartbeat(dialect, WORKER);
        expectDisconnect(dialect, WORKER);
    }

    @ParameterizedTest
    @EnumSource(Dialect.class)
    void readyForAnMmiName_getsDisconnectInTheWorkersDialect(Dialect dialect) {
        ready(dialect, WORKER, "mmi.mine");
        expectDisconnect(dialect, WORKER);
    }

    // ---- a peer that switches dialect ----------------------------------------------------------

    @Test
    void aWorkerThatSwitchesDialect_isRemovedAndDisconnectedInItsFirstDialect() {
        ready(Dialect.MDP_01, WORKER, "svc");
        heartbeat(Dialect.MAJORTOMO, WORKER);
        expectDisconnect(Dialect.MDP_01, WORKER);
        assertEquals(0, core.stats().get(0).workers());
        request(Dialect.MDP_02, CLIENT, "mmi.service", "svc");
        expectFinal(Dialect.MDP_02, CLIENT, "mmi.service", "404");
    }

    @Test
    void aClientThatSwitchesDialect_hasTheMessageDropped() {
        ready(Dialect.MDP_02, WORKER, "svc");
        request(Dialect.MDP_02, CLIENT, "svc", "one");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "one");
        finalReply(Dialect.MDP_02, WORKER, CLIENT, "r");
        expectFinal(Dialect.MDP_02, CLIENT, "svc", "r");
        request(Dialect.MDP_01, CLIENT, "svc", "two");
        assertEquals(List.of(), new ArrayList<>(sent), "the worker gets nothing");
        request(Dialect.MDP_02, CLIENT, "svc", "three");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "three");
        finalReply(Dialect.MDP_02, WORKER, CLIENT, "r");
        expectFinal(Dialect.MDP_02, CLIENT, "svc", "r");
    }

    @Test
    void aQuietClientsDialectIsForgotten_soItsRoutingIdMayBeReused() {
        request(Dialect.MDP_01, CLIENT, "mmi.service", "x");
        expectFinal(Dialect.MDP_01, CLIENT, "mmi.service", "404");
        advance(config.requestExpiry().toMillis() + 100);
        request(Dialect.MAJORTOMO, CLIENT, "mmi.service", "x");
        expectFinal(Dialect.MAJORTOMO, CLIENT, "mmi.service", "404");
    }

    // ---- resend, and busy workers that do not heartbeat ----------------------------------------

    @Test
    void requestHeldByADeadMdp01Worker_isResentToAnother() {
        ready(Dialect.MDP_01, WORKER, "svc");
        request(Dialect.MDP_02, CLIENT, "svc", "job");
        expectRequest(Dialect.MDP_01, WORKER, CLIENT, "job");
        ready(Dialect.MDP_01, WORKER_2, "svc");
        for (int i = 0; i < 2; i++) {
            advance(100);
            expectHeartbeatsToBoth();
            heartbeat(Dialect.MDP_01, WORKER_2);
        }
        advance(100);
        // WORKER has been silent for 300 ms: it is buried and its request goes to WORKER_2.
        expectRequest(Dialect.MDP_01, WORKER_2, CLIENT, "job"); // no heartbeat: it was just sent a command
        finalReply(Dialect.MDP_01, WORKER_2, CLIENT, "done");
        expectFinal(Dialect.MDP_02, CLIENT, "svc", "done");
        assertEquals(1, core.stats().get(0).resent());
    }

    @Test
    void busyWorkerExpiry_letsABusyMdp01WorkerStaySilentLonger_butNotAnIdleOne() {
        config = config.withBusyWorkerExpiry(Duration.ofMillis(1000));
        core = newCore();
        ready(Dialect.MDP_01, WORKER, "svc");
        request(Dialect.MDP_01, CLIENT, "svc", "slow");
        expectRequest(Dialect.MDP_01, WORKER, CLIENT, "slow");
        for (int i = 0; i < 9; i++) {
            advance(100);
            expectHeartbeat(Dialect.MDP_01, WORKER);
        }
        assertEquals(1, core.stats().get(0).workers(), "busy and silent for 900 ms of the 1000 allowed");
        finalReply(Dialect.MDP_01, WORKER, CLIENT, "done");
        expectFinal(Dialect.MDP_01, CLIENT, "svc", "done");
        for (int i = 0; i < 2; i++) {
            advance(100);
            expectHeartbeat(Dialect.MDP_01, WORKER);
        }
        advance(100);
        assertEquals(0, core.stats().get(0).workers(), "idle and silent for 300 ms: dead");
    }

    @Test
    void busyWorkerExpiry_doesNotApplyTo18MdpWorkers_whichHeartbeatWhileBusy() {
        config = config.withBusyWorkerExpiry(Duration.ofMillis(1000));
        core = newCore();
        ready(Dialect.MDP_02, WORKER, "svc");
        request(Dialect.MDP_02, CLIENT, "svc", "slow");
        expectRequest(Dialect.MDP_02, WORKER, CLIENT, "slow");
        for (int i = 0; i < 2; i++) {
            advance(100);
            expectHeartbeat(Dialect.MDP_02, WORKER);
        }
        advance(100);
        assertEquals(0, core.stats().get(0).workers());
        assertEquals(1, core.stats().get(0).failed() + core.stats().get(0).queued());
    }

    // ---- stats ---------------------------------------------------------------------------------

    @Test
    void stats_countWorkersByDialect_andRequestsByTheDialectOfTheirClient() {
        ready(Dialect.MDP_01, WORKER, "svc");
        ready(Dialect.MAJORTOMO, WORKER_2, "svc");
        request(Dialect.MDP_01, CLIENT, "svc", "a");
        expectRequest(Dialect.MDP_01, WORKER, CLIENT, "a");
        RoutingId other = id("other-client");
        request(Dialect.MAJORTOMO, other, "svc", "b");
        expectRequest(Dialect.MAJORTOMO, WORKER_2, other, "b");
        core.submit("svc", Body.ofStrings("c"), Long.MAX_VALUE, new ReplyHandler() {
            @Override
            public void onPartial(Body partial) {}

            @Override
            public void onFinal(Body reply) {}

            @Override
            public void onFailure(RequestFailure failure) {}
        }, now);
        ServiceStats stats = core.stats().get(0);
        assertEquals(Map.of(Dialect.MDP_01, new ServiceStats.WorkerCounts(0, 1),
                Dialect.MAJORTOMO, new ServiceStats.WorkerCounts(0, 1)), stats.workersByDialect());
        assertEquals(Map.of("mdp01", 1L, "majortomo", 1L, ServiceStats.IN_PROCESS, 1L), stats.requestsByClient());
        assertEquals(1, stats.queued());
    }
}
