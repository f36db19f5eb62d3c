package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.Dialect;
import org.mdpgateway.mdp.WorkerCommand;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.RequestFailure.Reason;

/** The broker's rules, driven through its socket-free core with a hand-moved clock. */
class BrokerCoreTest {
    private static final long MS = 1_000_000L;
    private static final Duration HEARTBEAT = Duration.ofMillis(100);
    private static final RoutingId C1 = id("client-1");
    private static final RoutingId C2 = id("client-2");
    private static final RoutingId C3 = id("client-3");
    private static final RoutingId W1 = id("worker-1");
    private static final RoutingId W2 = id("worker-2");
    private static final RoutingId W3 = id("worker-3");

    private final Deque<Sent> sent = new ArrayDeque<>();
    /** Peers the socket cannot send to, and why. */
    private final Map<RoutingId, BrokerCore.Undelivered> undeliverable = new java.util.HashMap<>();
    private long now = 1_000 * MS;
    private BrokerConfig config = BrokerConfig.defaults("inproc://unused")
            .withHeartbeat(HEARTBEAT, 3)
            .withRequestExpiry(Duration.ofMillis(1000))
            .withMaxQueued(3, 5)
            .withMaxResends(2);
    private BrokerCore core = newCore();

    private record Sent(RoutingId to, MdpCommand command) {}

    private BrokerCore newCore() {
        return new BrokerCore(config, (to, dialect, command) -> {
            // Every peer here speaks 18/MDP; BrokerDialectsTest covers the others.
            assertEquals(Dialect.MDP_02, dialect, "dialect of " + command + " to " + to);
            BrokerCore.Undelivered undelivered = undeliverable.get(to);
            if (undelivered == null) {
                sent.add(new Sent(to, command));
            }
            return undelivered;
        }, now);
    }

    @AfterEach
    void everythingSentWasChecked() {
        assertEquals(List.of(), new ArrayList<>(sent), "commands sent that the test did not expect");
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static RoutingId id(String name) {
        return RoutingId.of(name.getBytes(StandardCharsets.US_ASCII));
    }

    private void receive(RoutingId from, MdpCommand command) {
        core.onMessage(from, MdpCodec.encode(command), now);
    }

    private void receiveFrames(RoutingId from, String... frames) {
        List<byte[]> list = new ArrayList<>();
        for (String f : frames) {
            list.add(f.getBytes(StandardCharsets.ISO_8859_1));
        }
        core.onMessage(from, list, now);
    }

    private void ready(RoutingId worker, String service) {
        receive(worker, new WorkerCommand.Ready(service));
    }

    private void request(RoutingId client, String service, String... body) {
        receive(client, new ClientCommand.Request(service, Body.ofStrings(body)));
    }

    private void expect(RoutingId to, MdpCommand command) {
        Sent next = sent.poll();
        assertEquals(new Sent(to, command), next);
    }

    private void expectWorkerRequest(RoutingId worker, RoutingId client, String... body) {
        expect(worker, new WorkerCommand.Request(client, Body.ofStrings(body)));
    }

    private void expectDisconnect(RoutingId worker) {
        expect(worker, WorkerCommand.Disconnect.INSTANCE);
    }

    /** Heartbeats go out in no particular order. */
    private void expectHeartbeats(RoutingId... workers) {
        List<RoutingId> heartbeated = new ArrayList<>();
        for (int i = 0; i < workers.length && !sent.isEmpty(); i++) {
            Sent s = sent.poll();
            assertEquals(WorkerCommand.Heartbeat.INSTANCE, s.command(), "expected a heartbeat, got " + s);
            heartbeated.add(s.to());
        }
        assertEquals(java.util.Set.of(workers), java.util.Set.copyOf(heartbeated));
        assertEquals(workers.length, heartbeated.size());
    }

    private void expectNothing() {
        assertEquals(List.of(), new ArrayList<>(sent));
    }

    private void advance(long millis) {
        now += millis * MS;
        core.onTick(now);
    }

    private ServiceStats stats(String service) {
        return core.stats().stream().filter(s -> s.service().equals(service)).findFirst()
                .orElseThrow(() -> new AssertionError("no stats for " + service + ": " + core.stats()));
    }

    /** Records what an in-process request hears. */
    private static final class Recorder implements ReplyHandler {
        final List<String> events = new ArrayList<>();
        final List<RequestFailure> failures = new ArrayList<>();

        @Override
        public void onPartial(Body partial) {
            events.add("partial:" + String.join(",", partial.strings()));
        }

        @Override
        public void onFinal(Body reply) {
            events.add("final:" + String.join(",", reply.strings()));
        }

        @Override
        public void onFailure(RequestFailure failure) {
            events.add("failure:" + failure.reason());
            failures.add(failure);
        }
    }

    private RoutingId workerAddressOf(RoutingId worker) {
        Sent next = sent.poll();
        assertEquals(worker, next.to());
        return ((WorkerCommand.Request) next.command()).client();
    }

    // ---- routing -------------------------------------------------------------------------------

    @Test
    void clientRequest_goesToWorkerWithTheClientsRoutingId() {
        ready(W1, "echo");
        request(C1, "echo", "hello", "", "x");
        expectWorkerRequest(W1, C1, "hello", "", "x");
    }

    @Test
    void partialsAndFinal_goBackToTheClientAsClientCommands() {
        ready(W1, "echo");
        request(C1, "echo", "hi");
        expectWorkerRequest(W1, C1, "hi");
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p1")));
        expect(C1, new ClientCommand.Partial("echo", Body.ofStrings("p1")));
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p2", "")));
        expect(C1, new ClientCommand.Partial("echo", Body.ofStrings("p2", "")));
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("done")));
        expect(C1, new ClientCommand.Final("echo", Body.ofStrings("done")));
        assertEquals(1, stats("echo").served());
    }

    @Test
    void noWorker_requestsWaitAndAreServedInArrivalOrder() {
        request(C1, "slow", "a");
        request(C2, "slow", "b");
        request(C3, "slow", "c");
        expectNothing();
        assertEquals(3, stats("slow").queued());
        ready(W1, "slow");
        expectWorkerRequest(W1, C1, "a");
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("A")));
        expect(C1, new ClientCommand.Final("slow", Body.ofStrings("A")));
        expectWorkerRequest(W1, C2, "b");
        receive(W1, new WorkerCommand.Final(C2, Body.ofStrings("B")));
        expect(C2, new ClientCommand.Final("slow", Body.ofStrings("B")));
        expectWorkerRequest(W1, C3, "c");
    }

    @Test
    void idleWorkers_areUsedLeastRecentlyUsedFirst() {
        ready(W1, "svc");
        ready(W2, "svc");
        ready(W3, "svc");
        request(C1, "svc", "1");
        expectWorkerRequest(W1, C1, "1");
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        // W1 was just used: W2 and W3 have waited longer.
        request(C2, "svc", "2");
        expectWorkerRequest(W2, C2, "2");
        request(C3, "svc", "3");
        expectWorkerRequest(W3, C3, "3");
        request(C1, "svc", "4");
        expectWorkerRequest(W1, C1, "4");
    }

    @Test
    void aWorkerHoldsOneRequestAtATime() {
        ready(W1, "svc");
        request(C1, "svc", "1");
        expectWorkerRequest(W1, C1, "1");
        request(C2, "svc", "2");
        expectNothing();
        assertEquals(1, stats("svc").inFlight());
        assertEquals(1, stats("svc").queued());
        assertEquals(1, stats("svc").busyWorkers());
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        expectWorkerRequest(W1, C2, "2");
    }

    @Test
    void nothingReachesTheClientAfterItsFinal() {
        ready(W1, "svc");
        request(C1, "svc", "1");
        expectWorkerRequest(W1, C1, "1");
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("late")));
        expectDisconnect(W1);
    }

    // ---- queue limits and expiry ---------------------------------------------------------------

    @Test
    void queuedRequest_expiresAfterTheRequestExpiry() {
        request(C1, "nobody", "x");
        advance(999);
        assertEquals(1, stats("nobody").queued());
        advance(1);
        ready(W1, "nobody");
        expectNothing();
        assertEquals(0, stats("nobody").queued());
    }

    @Test
    void aClientThatPipelinesManyRequests_takesTurnsWithTheOthers_eachClientInArrivalOrder() {
        config = config.withMaxQueued(100, 100);
        core = newCore();
        ready(W1, "svc");
        request(C1, "svc", "a1");
        expectWorkerRequest(W1, C1, "a1");
        request(C1, "svc", "a2");
        request(C1, "svc", "a3");
        request(C1, "svc", "a4");
        request(C2, "svc", "b1");
        request(C3, "svc", "c1");
        request(C2, "svc", "b2");

        String[][] order = {{"a2", "1"}, {"b1", "2"}, {"c1", "3"}, {"a3", "1"}, {"b2", "2"}, {"a4", "1"}};
        RoutingId last = C1;
        for (String[] next : order) {
            receive(W1, new WorkerCommand.Final(last, Body.ofStrings("ok")));
            expect(last, new ClientCommand.Final("svc", Body.ofStrings("ok")));
            last = id("client-" + next[1]);
            expectWorkerRequest(W1, last, next[0]);
        }
    }

    @Test
    void oneClientPastItsShareOfTheQueue_isRefused_andOthersStillQueue() {
        config = config.withMaxQueued(100, 100).withMaxQueuedPerClient(2);
        core = newCore();
        request(C1, "svc", "1");
        request(C1, "svc", "2");
        request(C1, "svc", "3");
        request(C2, "svc", "4");
        assertEquals(3, stats("svc").queued());
        assertEquals(1, stats("svc").refused());
        Recorder local = new Recorder();
        core.submit("svc", Body.ofStrings("in-process"), Long.MAX_VALUE, local, now);
        assertEquals(List.of(), local.events, "an in-process request is a client of its own");
        ready(W1, "svc");
        expectWorkerRequest(W1, C1, "1");
    }

    @Test
    void requestsPastTheQueuedByteBudget_areRefused_namingTheLimit_andRoomComesBackAsWorkersTakeThem() {
        config = config.withMaxQueued(100, 100).withByteLimits(10, 20);
        core = newCore();
        request(C1, "svc", "12345678");
        request(C2, "svc", "12345678");
        Recorder over = new Recorder();
        core.submit("svc", Body.ofStrings("12345678"), Long.MAX_VALUE, over, now);
        assertEquals(List.of("failure:REFUSED"), over.events);
        assertTrue(over.failures.get(0).detail().contains("--max-queued-bytes"), over.failures.get(0).detail());
        assertEquals(2, stats("svc").queued());

        ready(W1, "svc");
        expectWorkerRequest(W1, C1, "12345678");
        Recorder fits = new Recorder();
        core.submit("svc", Body.ofStrings("12345678"), Long.MAX_VALUE, fits, now);
        assertEquals(List.of(), fits.events, "the bytes the worker took are free again");
        assertEquals(2, stats("svc").queued());
    }

    @Test
    void requestWaitingForBusyWorkers_expiresAndIsCounted() {
        ready(W1, "busy");
        request(C1, "busy", "1");
        expectWorkerRequest(W1, C1, "1");
        request(C2, "busy", "2");
        for (int i = 0; i < 10; i++) {
            advance(100);
            expect(W1, WorkerCommand.Heartbeat.INSTANCE);
            receive(W1, WorkerCommand.Heartbeat.INSTANCE);
        }
        assertEquals(1, stats("busy").expired());
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("busy", Body.ofStrings("ok")));
        expectNothing();
    }

    @Test
    void fullQueue_refusesNewRequests_andCountsThem() {
        Recorder refused = new Recorder();
        for (int i = 0; i < 3; i++) {
            request(C1, "busy", "r" + i);
        }
        core.submit("busy", Body.ofStrings("r3"), Long.MAX_VALUE, refused, now);
        assertEquals(List.of("failure:REFUSED"), refused.events);
        assertEquals(1, stats("busy").refused());
        assertEquals(3, stats("busy").queued());
    }

    @Test
    void totalQueueBound_coversMadeUpServiceNames_whoseFailuresShowForAMinute() {
        for (int i = 0; i < 5; i++) {
            request(C1, "made-up-" + i, "x");
        }
        Recorder refused = new Recorder();
        core.submit("made-up-5", Body.ofStrings("x"), Long.MAX_VALUE, refused, now);
        assertEquals(List.of("failure:REFUSED"), refused.events);
        assertEquals(List.of(Reason.REFUSED), reasons(stats("made-up-5")));
        advance(1000);
        assertEquals(6, core.stats().size(), "a service with no worker shows why its requests failed");
        assertEquals(List.of(Reason.EXPIRED), reasons(stats("made-up-0")), "no worker took it");
        advance(59_000);
        assertEquals(List.of(Reason.EXPIRED), reasons(stats("made-up-4")), "a minute after its failure");
        advance(1001);
        assertEquals(List.of(), core.stats(), "then expired requests for unknown services leave nothing behind");
    }

    @Test
    void aServiceKeptForItsFailures_thatIsUsedAgain_isKeptForItsNewestFailure() {
        core.submit("ghost", Body.ofStrings("x"), now + 10 * MS, new Recorder(), now);
        advance(10);
        advance(50_000);
        Recorder again = new Recorder();
        core.submit("ghost", Body.ofStrings("y"), now + 10 * MS, again, now);
        advance(10);
        assertEquals(List.of("failure:EXPIRED"), again.events);
        advance(20_000);
        assertEquals(List.of(Reason.EXPIRED, Reason.EXPIRED), reasons(stats("ghost")),
                "70 s after the first failure, 20 s after the newest");
        advance(40_001);
        assertEquals(List.of(), core.stats());
    }

    private static List<Reason> reasons(ServiceStats stats) {
        return stats.recentFailures().stream().map(ServiceStats.RecentFailure::reason).toList();
    }

    @Test
    void workersRegisteringMadeUpNames_cannotGrowTheServiceTableWithoutBound() {
        int names = BrokerCore.RETAINED_SERVICES + 500;
        for (int i = 0; i < names; i++) {
            RoutingId worker = id("w" + i);
            ready(worker, "name-" + i);
            receive(worker, WorkerCommand.Disconnect.INSTANCE);
        }
        expectNothing();
        assertTrue(core.stats().size() <= BrokerCore.RETAINED_SERVICES, "services kept: " + core.stats().size());
        assertTrue(core.stats().size() >= BrokerCore.RETAINED_SERVICES - 1, "services that had workers stay");
    }

    // ---- heartbeating --------------------------------------------------------------------------

    @Test
    void heartbeats_goToIdleAndBusyWorkersEveryInterval() {
        ready(W1, "svc");
        ready(W2, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        advance(50);
        expectNothing();
        advance(50);
        // W1 was sent its REQUEST at the start; both are due now.
        expectHeartbeats(W1, W2);
    }

    @Test
    void silentWorker_isDeadAfterLivenessIntervals() {
        ready(W1, "svc");
        for (int i = 0; i < 2; i++) {
            advance(100);
            expect(W1, WorkerCommand.Heartbeat.INSTANCE);
        }
        advance(100);
        expectNothing();
        assertEquals(0, stats("svc").workers());
        request(C1, "svc", "x");
        expectNothing();
    }

    @Test
    void anyCommandFromAWorker_countsAsItsHeartbeat() {
        ready(W1, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        for (int i = 0; i < 10; i++) {
            advance(100);
            expect(W1, WorkerCommand.Heartbeat.INSTANCE);
            receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p" + i)));
            expect(C1, new ClientCommand.Partial("svc", Body.ofStrings("p" + i)));
        }
        assertEquals(1, stats("svc").busyWorkers());
    }

    // ---- recovery ------------------------------------------------------------------------------

    @Test
    void deadWorkersRequest_goesToTheNextWorker() {
        ready(W1, "svc");
        request(C1, "svc", "job");
        expectWorkerRequest(W1, C1, "job");
        ready(W2, "svc");
        receive(W2, WorkerCommand.Heartbeat.INSTANCE);
        advance(100);
        expectHeartbeats(W1, W2);
        receive(W2, WorkerCommand.Heartbeat.INSTANCE);
        advance(100);
        expectHeartbeats(W1, W2);
        receive(W2, WorkerCommand.Heartbeat.INSTANCE);
        advance(100);
        // W1 has been silent for 300 ms: dead. Its request goes to W2.
        expectWorkerRequest(W2, C1, "job");
        assertEquals(1, stats("svc").resent());
        receive(W2, new WorkerCommand.Final(C1, Body.ofStrings("done")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("done")));
    }

    @Test
    void resentRequest_waitsAfreshInsteadOfExpiringForTimeSpentWithTheDeadWorker() {
        ready(W1, "svc");
        ready(W2, "svc");
        request(C1, "svc", "long job");
        expectWorkerRequest(W1, C1, "long job");
        request(C2, "svc", "other");
        expectWorkerRequest(W2, C2, "other");
        request(C3, "svc", "behind");
        for (int i = 0; i < 15; i++) { // 1.5 s with W1, longer than the 1 s request expiry
            advance(100);
            expectHeartbeats(W1, W2);
            receive(W1, WorkerCommand.Heartbeat.INSTANCE);
            receive(W2, WorkerCommand.Heartbeat.INSTANCE);
        }
        assertEquals(1, stats("svc").expired(), "'behind' waited 1 s for a worker and expired");
        receive(W1, WorkerCommand.Disconnect.INSTANCE);
        advance(100);
        expectHeartbeats(W2);
        receive(W2, WorkerCommand.Heartbeat.INSTANCE);
        assertEquals(1, stats("svc").queued(), "the resent request still waits");
        receive(W2, new WorkerCommand.Final(C2, Body.ofStrings("ok")));
        expect(C2, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        expectWorkerRequest(W2, C1, "long job");
    }

    @Test
    void workerDisconnect_putsItsRequestBackAtTheFrontOfTheQueue() {
        ready(W1, "svc");
        request(C1, "svc", "first");
        expectWorkerRequest(W1, C1, "first");
        request(C2, "svc", "second");
        receive(W1, WorkerCommand.Disconnect.INSTANCE);
        expectNothing();
        ready(W2, "svc");
        expectWorkerRequest(W2, C1, "first");
    }

    @Test
    void resendCap_failsARequestThatKillsEveryWorker() {
        Recorder recorder = new Recorder();
        core.submit("poison", Body.ofStrings("x"), Long.MAX_VALUE, recorder, now);
        for (RoutingId worker : List.of(W1, W2, W3)) {
            ready(worker, "poison");
            workerAddressOf(worker);
            receive(worker, WorkerCommand.Disconnect.INSTANCE);
        }
        // Sent three times: the first try and two resends (max resends 2).
        assertEquals(List.of("failure:WORKER_LOST"), recorder.events);
        assertEquals(2, stats("poison").resent());
        assertEquals(1, stats("poison").failed());
    }

    @Test
    void workerLostAfterPartials_failsInsteadOfRepeatingOutput() {
        Recorder recorder = new Recorder();
        ready(W1, "svc");
        ready(W2, "svc");
        core.submit("svc", Body.ofStrings("x"), Long.MAX_VALUE, recorder, now);
        RoutingId address = workerAddressOf(W1);
        receive(W1, new WorkerCommand.Partial(address, Body.ofStrings("p1")));
        receive(W1, WorkerCommand.Disconnect.INSTANCE);
        expectNothing();
        assertEquals(List.of("partial:p1", "failure:WORKER_LOST"), recorder.events);
    }

    @Test
    void networkClientsRequest_lostAfterPartials_isNotResent() {
        ready(W1, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p1")));
        expect(C1, new ClientCommand.Partial("svc", Body.ofStrings("p1")));
        receive(W1, WorkerCommand.Disconnect.INSTANCE);
        ready(W2, "svc");
        expectNothing();
        assertEquals(1, stats("svc").failed());
    }

    // ---- protocol errors -----------------------------------------------------------------------

    @Test
    void secondReady_getsDisconnect_andTheWorkerIsGone() {
        ready(W1, "svc");
        ready(W1, "svc");
        expectDisconnect(W1);
        request(C1, "svc", "x");
        expectNothing();
        assertEquals(0, stats("svc").workers());
    }

    @Test
    void finalWithNoRequestOutstanding_getsDisconnect() {
        ready(W1, "svc");
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("?")));
        expectDisconnect(W1);
    }

    @Test
    void partialForAnotherClient_getsDisconnect_andTheRequestIsResent() {
        ready(W1, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        receive(W1, new WorkerCommand.Partial(C2, Body.ofStrings("wrong")));
        expectDisconnect(W1);
        ready(W2, "svc");
        expectWorkerRequest(W2, C1, "x");
    }

    @Test
    void commandsBeforeReady_getDisconnect() {
        receive(W1, WorkerCommand.Heartbeat.INSTANCE);
        expectDisconnect(W1);
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("x")));
        expectDisconnect(W1);
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("x")));
        expectDisconnect(W1);
        receive(W1, new WorkerCommand.Request(C1, Body.ofStrings("x")));
        expectDisconnect(W1);
        receive(W1, WorkerCommand.Disconnect.INSTANCE);
        expectNothing();
    }

    @Test
    void invalidMessages_areDropped_andAWorkerSendingOneIsRemoved() {
        receiveFrames(C1, "MDPC01", "\u0001", "svc", "x");
        receiveFrames(C1, "MDPW02", "\u0009");
        receiveFrames(C1, "MDPC02", "\u0001", "svc");
        receiveFrames(C1);
        expectNothing();
        ready(W1, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        receiveFrames(W1, "MDPW02", "\u0004", "client-1", "not empty", "x");
        expectDisconnect(W1);
        assertEquals(0, stats("svc").workers());
        assertEquals(1, stats("svc").queued(), "its request waits for the next worker");
    }

    @Test
    void clientSendingReplies_isIgnored() {
        receive(C1, new ClientCommand.Final("svc", Body.ofStrings("x")));
        receive(C1, new ClientCommand.Partial("svc", Body.ofStrings("x")));
        expectNothing();
    }

    // ---- MMI -----------------------------------------------------------------------------------

    @Test
    void mmiService_answers200WhenAWorkerIsRegistered_else404() {
        request(C1, "mmi.service", "echo");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("404")));
        ready(W1, "echo");
        request(C1, "mmi.service", "echo");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("200")));
        request(C1, "echo", "x");
        expectWorkerRequest(W1, C1, "x");
        request(C1, "mmi.service", "echo");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("200")));
    }

    @Test
    void mmiService_doesNotCountQueuedRequestsAsWorkers() {
        request(C1, "ghost", "x");
        request(C2, "mmi.service", "ghost");
        expect(C2, new ClientCommand.Final("mmi.service", Body.ofStrings("404")));
    }

    @Test
    void mmiService_readsTheNameFromTheLastFrame_andReplacesItWithTheCode() {
        // As the zguide's mdbroker: the reply is the request with its last frame replaced.
        ready(W1, "echo");
        request(C1, "mmi.service", "tag", "echo");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("tag", "200")));
        request(C1, "mmi.service", "echo", "nobody");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("echo", "404")));
    }

    @Test
    void unimplementedMmiService_answers501() {
        request(C1, "mmi.bogus", "x");
        expect(C1, new ClientCommand.Final("mmi.bogus", Body.ofStrings("501")));
    }

    @Test
    void readyForAnMmiName_getsDisconnect() {
        ready(W1, "mmi.service");
        expectDisconnect(W1);
        request(C1, "mmi.service", "mmi.service");
        expect(C1, new ClientCommand.Final("mmi.service", Body.ofStrings("404")));
    }

    @Test
    void mmiFromThisProcess_isAnsweredAtOnce() {
        Recorder recorder = new Recorder();
        ready(W1, "echo");
        core.submit("mmi.service", Body.ofStrings("echo"), Long.MAX_VALUE, recorder, now);
        assertEquals(List.of("final:200"), recorder.events);
    }

    // ---- in-process requests -------------------------------------------------------------------

    @Test
    void localRequest_getsPartialsThenFinal() {
        Recorder recorder = new Recorder();
        ready(W1, "svc");
        core.submit("svc", Body.ofStrings("in"), Long.MAX_VALUE, recorder, now);
        RoutingId address = workerAddressOf(W1);
        receive(W1, new WorkerCommand.Partial(address, Body.ofStrings("p")));
        receive(W1, new WorkerCommand.Final(address, Body.ofStrings("f")));
        assertEquals(List.of("partial:p", "final:f"), recorder.events);
    }

    @Test
    void localRequestsHaveDistinctClientAddresses() {
        ready(W1, "svc");
        ready(W2, "svc");
        core.submit("svc", Body.ofStrings("a"), Long.MAX_VALUE, new Recorder(), now);
        core.submit("svc", Body.ofStrings("b"), Long.MAX_VALUE, new Recorder(), now);
        RoutingId a = workerAddressOf(W1);
        RoutingId b = workerAddressOf(W2);
        assertTrue(!a.equals(b));
    }

    @Test
    void deadlineWhileQueued_failsAsExpired() {
        Recorder recorder = new Recorder();
        core.submit("svc", Body.ofStrings("x"), now + 200 * MS, recorder, now);
        advance(199);
        assertEquals(List.of(), recorder.events);
        advance(1);
        assertEquals(List.of("failure:EXPIRED"), recorder.events);
        ready(W1, "svc");
        expectNothing();
    }

    @Test
    void inProcessDeadlineLongerThanTheRequestExpiry_governs_andAWorkerThatComesLateGetsTheRequest() {
        // The request expiry here is 1000 ms; the caller asked for 7000.
        Recorder recorder = new Recorder();
        core.submit("late", Body.ofStrings("x"), now + 7000 * MS, recorder, now);
        for (int i = 0; i < 35; i++) {
            advance(100);
        }
        assertEquals(List.of(), recorder.events, "still waiting after 3.5 s, past the broker's expiry");
        ready(W1, "late");
        RoutingId address = workerAddressOf(W1);
        receive(W1, new WorkerCommand.Final(address, Body.ofStrings("done")));
        assertEquals(List.of("final:done"), recorder.events);
        drainHeartbeats();
    }

    @Test
    void failureDetails_nameTheLimitThatEndedTheRequest() {
        Recorder waited = new Recorder();
        core.submit("nobody", Body.ofStrings("x"), now + 300 * MS, waited, now);
        advance(300);
        assertEquals("no worker for 'nobody' took the request within its deadline of 300 ms",
                waited.failures.get(0).detail());

        Recorder held = new Recorder();
        ready(W1, "slow");
        core.submit("slow", Body.ofStrings("x"), now + 50 * MS, held, now);
        workerAddressOf(W1);
        advance(50);
        assertEquals("the worker for 'slow' sent no FINAL within the request's deadline of 50 ms",
                held.failures.get(0).detail());

        Recorder noDeadline = new Recorder();
        core.submit("nobody", Body.ofStrings("y"), Long.MAX_VALUE, noDeadline, now);
        for (int i = 0; i < 10; i++) {
            advance(100);
        }
        assertEquals("no worker for 'nobody' took the request within the broker's request expiry of 1000 ms",
                noDeadline.failures.get(0).detail());
        drainHeartbeats();
    }

    private void drainHeartbeats() {
        sent.removeIf(s -> s.command() == WorkerCommand.Heartbeat.INSTANCE);
    }

    @Test
    void deadlineAfterAWorkerTookIt_failsAsDeadline_andTheLateFinalIsDropped() {
        Recorder recorder = new Recorder();
        ready(W1, "svc");
        core.submit("svc", Body.ofStrings("x"), now + 50 * MS, recorder, now);
        RoutingId address = workerAddressOf(W1);
        advance(50);
        assertEquals(List.of("failure:DEADLINE"), recorder.events);
        receive(W1, new WorkerCommand.Final(address, Body.ofStrings("late")));
        assertEquals(List.of("failure:DEADLINE"), recorder.events);
        assertEquals(1, stats("svc").idleWorkers(), "the worker is free again after its FINAL");
        request(C1, "svc", "next");
        expectWorkerRequest(W1, C1, "next");
    }

    @Test
    void cancelWhileQueued_removesTheRequest() {
        Recorder recorder = new Recorder();
        BrokerCore.LocalRequest request = core.submit("svc", Body.ofStrings("x"), Long.MAX_VALUE, recorder, now);
        core.cancel(request, now);
        ready(W1, "svc");
        expectNothing();
        assertEquals(List.of(), recorder.events);
    }

    @Test
    void cancelWhileActive_dropsLateReplies_andFreesTheWorkerAfterItsFinal() {
        Recorder recorder = new Recorder();
        ready(W1, "svc");
        BrokerCore.LocalRequest request = core.submit("svc", Body.ofStrings("x"), Long.MAX_VALUE, recorder, now);
        RoutingId address = workerAddressOf(W1);
        core.cancel(request, now);
        receive(W1, new WorkerCommand.Partial(address, Body.ofStrings("p")));
        receive(W1, new WorkerCommand.Final(address, Body.ofStrings("f")));
        assertEquals(List.of(), recorder.events);
        request(C1, "svc", "next");
        expectWorkerRequest(W1, C1, "next");
    }

    @Test
    void throwingHandler_doesNotBreakTheBroker() {
        ready(W1, "svc");
        core.submit("svc", Body.ofStrings("x"), Long.MAX_VALUE, new ReplyHandler() {
            @Override
            public void onPartial(Body partial) {
                throw new IllegalStateException("boom");
            }

            @Override
            public void onFinal(Body reply) {
                throw new IllegalStateException("boom");
            }

            @Override
            public void onFailure(RequestFailure failure) {
                throw new IllegalStateException("boom");
            }
        }, now);
        RoutingId address = workerAddressOf(W1);
        receive(W1, new WorkerCommand.Partial(address, Body.ofStrings("p")));
        receive(W1, new WorkerCommand.Final(address, Body.ofStrings("f")));
        request(C1, "svc", "next");
        expectWorkerRequest(W1, C1, "next");
    }

    // ---- stats and shutdown --------------------------------------------------------------------

    @Test
    void stats_countWorkersQueueAndOutcomes() {
        ready(W1, "svc");
        ready(W2, "svc");
        request(C1, "svc", "a");
        expectWorkerRequest(W1, C1, "a");
        ServiceStats s = stats("svc");
        assertEquals(new ServiceStats("svc", 1, 1, 0, 1, 0, 0, 0, 0, 0, 0,
                Map.of(Dialect.MDP_02, new ServiceStats.WorkerCounts(1, 1)), Map.of("mdp02", 1L), Map.of()), counters(s));
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        core.submit("svc", Body.ofStrings("b"), Long.MAX_VALUE, new Recorder(), now);
        workerAddressOf(W2);
        assertEquals(new ServiceStats("svc", 1, 1, 0, 1, 1, 0, 0, 0, 0, 0,
                Map.of(Dialect.MDP_02, new ServiceStats.WorkerCounts(1, 1)),
                Map.of("mdp02", 1L, ServiceStats.IN_PROCESS, 1L), Map.of()), counters(stats("svc")));
    }

    /** The counters of a snapshot, without its worker detail, failures and latencies. */
    private static ServiceStats counters(ServiceStats s) {
        return new ServiceStats(s.service(), s.idleWorkers(), s.busyWorkers(), s.queued(), s.inFlight(), s.served(),
                s.failed(), s.resent(), s.expired(), s.refused(), s.denied(), s.workersByDialect(), s.requestsByClient(),
                s.droppedByReason());
    }

    @Test
    void stats_describeEachWorker_itsServedCount_andTheAgeOfTheRequestItHolds() {
        ready(W1, "svc");
        advance(40);
        request(C1, "svc", "a");
        expectWorkerRequest(W1, C1, "a");
        advance(30);
        ServiceStats.WorkerStats busy = stats("svc").workerList().get(0);
        assertEquals(W1.toString(), busy.routingId());
        assertEquals(Dialect.MDP_02, busy.dialect());
        assertEquals(70, busy.connectedMillis());
        assertEquals(30, busy.holdingMillis(), "it took the request 30 ms ago");
        assertEquals(0, busy.served());
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        ServiceStats.WorkerStats idle = stats("svc").workerList().get(0);
        assertEquals(1, idle.served());
        assertEquals(-1, idle.holdingMillis(), "idle");
        assertEquals(0, idle.silentMillis(), "its FINAL was just heard");
    }

    @Test
    void aWorkerThatMissedHeartbeats_isShownSilent_beforeItIsRemoved() {
        ready(W1, "svc");
        advance(100);
        expectHeartbeats(W1);
        assertTrue(!stats("svc").workerList().get(0).silent(), "silent for one interval only");
        advance(100);
        expectHeartbeats(W1);
        advance(50);
        ServiceStats.WorkerStats quiet = stats("svc").workerList().get(0);
        assertEquals(250, quiet.silentMillis());
        assertTrue(quiet.silent(), "more than two heartbeats missed: " + quiet);
        assertEquals(50, quiet.expiresInMillis(), "liveness 3 x 100 ms");
        advance(50);
        assertEquals(0, stats("svc").workers(), "then the broker removes it");
    }

    @Test
    void stats_keepTheLastFailures_newestFirst_withTheirReasons() {
        ready(W1, "svc");
        request(C1, "svc", "a");
        expectWorkerRequest(W1, C1, "a");
        receive(W1, new WorkerCommand.Disconnect());
        advance(20);
        ServiceStats svc = stats("svc");
        assertEquals(List.of(), svc.recentFailures(), "the request went back to the queue: no failure yet");
        for (int i = 0; i < 3; i++) {
            core.submit("svc", Body.ofStrings("y"), now + 10 * MS, new Recorder(), now);
        }
        advance(5);
        ready(W2, "svc");
        expectWorkerRequest(W2, C1, "a");
        advance(10);
        List<ServiceStats.RecentFailure> failures = stats("svc").recentFailures();
        assertEquals(3, failures.size(), failures.toString());
        assertEquals(Reason.EXPIRED, failures.get(0).reason());
        assertTrue(failures.get(0).detail().contains("deadline of 10 ms"), failures.get(0).detail());
        for (int i = 0; i < ServiceStats.RECENT_FAILURES; i++) {
            core.submit("svc", Body.ofStrings("z"), now + 10 * MS, new Recorder(), now);
        }
        advance(10);
        assertEquals(ServiceStats.RECENT_FAILURES, stats("svc").recentFailures().size(), "a fixed ring");
    }

    @Test
    void stats_countServedLatencies_inBuckets() {
        ready(W1, "svc");
        request(C1, "svc", "a");
        expectWorkerRequest(W1, C1, "a");
        now += 3 * MS; // 3 ms: in the bucket up to 5 ms
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("ok")));
        expect(C1, new ClientCommand.Final("svc", Body.ofStrings("ok")));
        List<Long> counts = stats("svc").latencyCounts();
        assertEquals(ServiceStats.LATENCY_BOUNDS_MICROS.size() + 1, counts.size());
        int bucket = ServiceStats.LATENCY_BOUNDS_MICROS.indexOf(5_000L);
        assertEquals(1L, counts.get(bucket), counts.toString());
        assertEquals(1L, counts.stream().mapToLong(Long::longValue).sum());
    }

    @Test
    void aRequestTheSocketCouldNotDeliverToItsWorker_goesToAnother_andTheDropIsCounted() {
        ready(W1, "svc");
        ready(W2, "svc");
        undeliverable.put(W1, BrokerCore.Undelivered.PEER_GONE);
        Recorder caller = new Recorder();
        core.submit("svc", Body.ofStrings("x"), Long.MAX_VALUE, caller, now);
        RoutingId address = workerAddressOf(W2);
        receive(W2, new WorkerCommand.Final(address, Body.ofStrings("ok")));
        assertEquals(List.of("final:ok"), caller.events);
        assertEquals(Map.of("peer-gone", 1L), stats("svc").droppedByReason());
        assertEquals(1, stats("svc").workers(), "the unreachable worker is taken out of service");
    }

    @Test
    void aPartialTheClientCouldNotTake_endsItsReply_soNoFinalPretendsToBeWhole() {
        ready(W1, "svc");
        request(C1, "svc", "x");
        expectWorkerRequest(W1, C1, "x");
        undeliverable.put(C1, BrokerCore.Undelivered.PEER_QUEUE_FULL);
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p1")));
        undeliverable.clear();
        receive(W1, new WorkerCommand.Partial(C1, Body.ofStrings("p2")));
        receive(W1, new WorkerCommand.Final(C1, Body.ofStrings("f")));
        expectNothing();
        assertEquals(Map.of("peer-queue-full", 1L), stats("svc").droppedByReason());
        assertEquals(1, stats("svc").idleWorkers(), "the worker is free after its FINAL");
    }

    @Test
    void shutdown_disconnectsEveryWorker_andFailsLocalRequests() {
        Recorder active = new Recorder();
        Recorder queued = new Recorder();
        ready(W1, "svc");
        core.submit("svc", Body.ofStrings("a"), Long.MAX_VALUE, active, now);
        workerAddressOf(W1);
        core.submit("svc", Body.ofStrings("b"), Long.MAX_VALUE, queued, now);
        ready(W2, "other");
        core.shutdown();
        List<RoutingId> disconnected = new ArrayList<>();
        while (!sent.isEmpty()) {
            Sent s = sent.poll();
            assertEquals(WorkerCommand.Disconnect.INSTANCE, s.command());
            disconnected.add(s.to());
        }
        assertTrue(disconnected.containsAll(List.of(W1, W2)) && disconnected.size() == 2);
        assertEquals(List.of("failure:BROKER_STOPPED"), active.events);
        assertEquals(List.of("failure:BROKER_STOPPED"), queued.events);
        assertEquals(Reason.BROKER_STOPPED, queued.failures.get(0).reason());
    }

    // ---- the peer policy (CURVE keys, ACL) ------------------------------------------------------

    /** A policy that lets key "w" serve "svc", key "c" call "svc", and forgets revoked keys. */
    private final class TestPolicy implements PeerPolicy {
        final java.util.Set<String> revoked = new java.util.HashSet<>();

        @Override
        public boolean stillAllowed(String key, long now) {
            return !revoked.contains(key);
        }

        @Override
        public boolean mayServe(String key, String service) {
            return key.equals("w") && service.equals("svc");
        }

        @Override
        public boolean mayCall(String key, String service) {
            return key.equals("c") && service.equals("svc") || service.startsWith("mmi.");
        }
    }

    @Test
    void aWorkerThePolicyDoesNotCover_isDisconnected_andAClientsRequestIsDroppedAndCounted() {
        TestPolicy policy = new TestPolicy();
        core = new BrokerCore(config, (to, dialect, command) -> {
            sent.add(new Sent(to, command));
            return null;
        }, policy, now);
        core.onMessage(W2, "c", MdpCodec.encode(new WorkerCommand.Ready("svc")), now);
        expectDisconnect(W2);
        core.onMessage(W1, "w", MdpCodec.encode(new WorkerCommand.Ready("svc")), now);
        expectNothing();
        assertEquals(1, stats("svc").idleWorkers());

        core.onMessage(C2, "w", MdpCodec.encode(new ClientCommand.Request("svc", Body.ofStrings("no"))), now);
        expectNothing(); // MDP has no error reply: dropped
        assertEquals(1, stats("svc").denied());
        core.onMessage(C1, "c", MdpCodec.encode(new ClientCommand.Request("svc", Body.ofStrings("yes"))), now);
        expectWorkerRequest(W1, C1, "yes");
    }

    @Test
    void aRevokedKey_isNoLongerHeard_andItsWorkerIsDisconnected() {
        TestPolicy policy = new TestPolicy();
        core = new BrokerCore(config, (to, dialect, command) -> {
            sent.add(new Sent(to, command));
            return null;
        }, policy, now);
        core.onMessage(W1, "w", MdpCodec.encode(new WorkerCommand.Ready("svc")), now);
        assertEquals(1, stats("svc").idleWorkers());
        policy.revoked.add("w");
        core.onMessage(W1, "w", MdpCodec.encode(WorkerCommand.Heartbeat.INSTANCE), now);
        expectDisconnect(W1);
        assertEquals(0, stats("svc").workers());
    }
}
