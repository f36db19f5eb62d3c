package org.mdpgateway.broker;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.mdpgateway.broker.RequestFailure.Reason;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.MalformedMessageException;
import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.MdpProtocol.MmiStatus;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.WorkerCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's whole state and every rule of 18/MDP and 8/MMI, without sockets or threads: the loop
 * feeds it messages and clock ticks, and it answers through an {@link Outbox}.
 *
 * <p>This class is not thread safe: it belongs to the broker's event-loop thread.
 */
final class BrokerCore {
    private static final Logger log = LoggerFactory.getLogger(BrokerCore.class);

    /** Where the core's commands for peers go. */
    interface Outbox {
        void send(RoutingId to, MdpCommand command);
    }

    /** How many services without workers keep their counters; see {@link #dropIfUnused}. */
    static final int RETAINED_SERVICES = 10_000;

    private final BrokerConfig config;
    private final Outbox outbox;
    private final long heartbeatNanos;
    private final long workerExpiryNanos;
    private final long requestExpiryNanos;

    /** Every service that has workers, waiting requests or requests in flight, by name. */
    private final Map<String, Service> services = new HashMap<>();
    /** Every registered worker, by its routing id. */
    private final Map<RoutingId, Worker> workers = new HashMap<>();
    /** In-process requests that have a deadline, earliest first. */
    private final TreeSet<LocalRequest> deadlines =
            new TreeSet<>(Comparator.comparingLong((LocalRequest r) -> r.deadline).thenComparingLong(r -> r.id));
    private final RateLimitedWarning invalidMessages = new RateLimitedWarning(log, "invalid messages dropped");
    private final RateLimitedWarning refusals = new RateLimitedWarning(log, "requests refused, queue full");
    private int queuedTotal;
    private long nextLocalId = 1;
    private long nextHeartbeatAt;
    /**
     * No waiting request expires before this; may be early, never late. Kept so the loop does not
     * scan every queue on every turn.
     */
    private long nextQueueExpiryAt = Long.MAX_VALUE;

    BrokerCore(BrokerConfig config, Outbox outbox, long now) {
        this.config = config;
        this.outbox = outbox;
        this.heartbeatNanos = config.heartbeatInterval().toNanos();
        this.workerExpiryNanos = config.workerExpiry().toNanos();
        this.requestExpiryNanos = config.requestExpiry().toNanos();
        this.nextHeartbeatAt = now + heartbeatNanos;
    }

    // ---- messages from peers ---------------------------------------------------------------------

    /** Handles one message from the ROUTER socket; takes ownership of {@code frames}. */
    void onMessage(RoutingId peer, List<byte[]> frames, long now) {
        MdpCommand command;
        try {
            command = MdpCodec.decode(frames);
        } catch (MalformedMessageException e) {
            onInvalid(peer, e.getMessage(), now);
            return;
        }
        if (command instanceof ClientCommand client) {
            onClientCommand(peer, client, now);
        } else {
            onWorkerCommand(peer, (WorkerCommand) command, now);
        }
    }

    private void onInvalid(RoutingId peer, String problem, long now) {
        log.debug("dropped an invalid message from {}: {}", peer, problem);
        invalidMessages.record(now, problem);
        Worker worker = workers.get(peer);
        if (worker != null) {
            // 18/MDP: drop invalid messages and treat the peer as invalid.
            removeWorker(worker, "it sent an invalid message: " + problem, true, now);
        }
    }

    private void onClientCommand(RoutingId peer, ClientCommand command, long now) {
        if (!(command instanceof ClientCommand.Request request)) {
            log.debug("dropped a {} from client {}: clients only send REQUEST", command.type(), peer);
            return;
        }
        if (MdpProtocol.isMmiService(request.service())) {
            outbox.send(peer, new ClientCommand.Final(request.service(), mmiReply(request.service(), request.body())));
            return;
        }
        enqueue(new NetworkRequest(peer, request.service(), request.body(), now), now);
    }

    private void onWorkerCommand(RoutingId peer, WorkerCommand command, long now) {
        Worker worker = workers.get(peer);
        if (worker == null) {
            onCommandFromStranger(peer, command, now);
            return;
        }
        // 18/MDP: any command except DISCONNECT acts as a heartbeat.
        worker.expiresAt = now + workerExpiryNanos;
        if (command instanceof WorkerCommand.Heartbeat) {
            return;
        }
        if (command instanceof WorkerCommand.Disconnect) {
            removeWorker(worker, "it sent DISCONNECT", false, now);
        } else if (command instanceof WorkerCommand.Partial partial) {
            if (isReplyToCurrentRequest(worker, partial, now)) {
                forwardPartial(worker, partial.body());
            }
        } else if (command instanceof WorkerCommand.Final fin) {
            if (isReplyToCurrentRequest(worker, fin, now)) {
                forwardFinal(worker, fin.body(), now);
            }
        } else {
            // A second READY, or a REQUEST, which only the broker sends.
            disconnectForUnexpected(worker, command, now);
        }
    }

    private void onCommandFromStranger(RoutingId peer, WorkerCommand command, long now) {
        if (command instanceof WorkerCommand.Ready ready) {
            register(peer, ready.service(), now);
        } else if (!(command instanceof WorkerCommand.Disconnect)) {
            // 18/MDP: a valid but unexpected command gets DISCONNECT, then nothing more.
            log.debug("{} from unregistered peer {}; sending DISCONNECT", command.type(), peer);
            outbox.send(peer, WorkerCommand.Disconnect.INSTANCE);
        }
    }

    /** 18/MDP: a PARTIAL or FINAL with no request outstanding, or for another client, is unexpected. */
    private boolean isReplyToCurrentRequest(Worker worker, WorkerCommand.Addressed reply, long now) {
        if (worker.request != null && worker.request.clientAddress.equals(reply.client())) {
            return true;
        }
        disconnectForUnexpected(worker, reply, now);
        return false;
    }

    private void disconnectForUnexpected(Worker worker, WorkerCommand command, long now) {
        String why = worker.request == null
                ? "it sent " + command.type() + " with no request outstanding"
                : "it sent " + command.type() + (command instanceof WorkerCommand.Addressed ? " for another client" : "");
        removeWorker(worker, why, true, now);
    }

    private void register(RoutingId peer, String serviceName, long now) {
        if (MdpProtocol.isMmiService(serviceName)) {
            // 8/MMI: disconnect workers that try to register in the mmi. namespace.
            log.info("refused worker {} for '{}': the mmi. namespace belongs to the broker", peer, serviceName);
            outbox.send(peer, WorkerCommand.Disconnect.INSTANCE);
            return;
        }
        Service service = service(serviceName);
        Worker worker = new Worker(peer, service, now + workerExpiryNanos);
        workers.put(peer, worker);
        service.workerCount++;
        service.hadWorkers = true;
        service.idle.add(worker);
        log.info("worker {} registered for '{}' ({} now)", peer, serviceName, service.workerCount);
        dispatch(service, now);
    }

    // ---- requests ------------------------------------------------------------------------------

    /** Submits an in-process request; the handler hears of it on this thread. */
    LocalRequest submit(String serviceName, Body body, long deadline, ReplyHandler handler, long now) {
        LocalRequest request = new LocalRequest(nextLocalId++, serviceName, body, now, deadline, handler);
        if (MdpProtocol.isMmiService(serviceName)) {
            request.state = RequestState.DONE;
            request.complete(mmiReply(serviceName, body));
            return request;
        }
        if (deadline != Long.MAX_VALUE) {
            deadlines.add(request);
        }
        enqueue(request, now);
        return request;
    }

    /** Abandons an in-process request: its late replies are dropped. */
    void cancel(LocalRequest request, long now) {
        if (request.state == RequestState.DONE) {
            return;
        }
        request.cancelled = true;
        deadlines.remove(request);
        if (request.state == RequestState.QUEUED) {
            Service service = services.get(request.service);
            if (service != null && service.queue.remove(request)) {
                queuedTotal--;
            }
            request.state = RequestState.DONE;
            dropIfUnused(service);
        }
        // An active request stays with its worker until the FINAL, which is then dropped.
        log.debug("request {} to '{}' cancelled", request.id, request.service);
    }

    private void enqueue(Request request, long now) {
        Service service = service(request.service);
        if (service.queue.size() >= config.maxQueuedPerService() || queuedTotal >= config.maxQueuedTotal()) {
            service.refused++;
            refusals.record(now, "service '" + request.service + "' has " + service.queue.size() + " waiting");
            request.state = RequestState.DONE;
            deadlinesRemove(request);
            request.fail(Reason.REFUSED, "the queue for '" + request.service + "' is full ("
                    + service.queue.size() + " waiting)");
            dropIfUnused(service);
            return;
        }
        request.state = RequestState.QUEUED;
        service.queue.addLast(request);
        queuedTotal++;
        noteQueued(request);
        dispatch(service, now);
    }

    private void noteQueued(Request request) {
        nextQueueExpiryAt = earlier(nextQueueExpiryAt, request.waitingSince + requestExpiryNanos);
    }

    /** Gives waiting requests to idle workers: least recently used worker, oldest request first. */
    private void dispatch(Service service, long now) {
        while (!service.idle.isEmpty() && !service.queue.isEmpty()) {
            Iterator<Worker> leastRecentlyUsed = service.idle.iterator();
            Worker worker = leastRecentlyUsed.next();
            leastRecentlyUsed.remove();
            Request request = service.queue.pollFirst();
            queuedTotal--;
            request.state = RequestState.ACTIVE;
            request.partialsForwarded = false;
            worker.request = request;
            service.inFlight++;
            send(worker, new WorkerCommand.Request(request.clientAddress, request.body), now);
        }
    }

    private void forwardPartial(Worker worker, Body body) {
        Request request = worker.request;
        request.partialsForwarded = true;
        if (!request.isAbandoned()) {
            request.partial(body);
        }
    }

    private void forwardFinal(Worker worker, Body body, long now) {
        Request request = worker.request;
        Service service = worker.service;
        worker.request = null;
        service.inFlight--;
        if (!request.isAbandoned()) {
            service.served++;
            request.state = RequestState.DONE;
            deadlinesRemove(request);
            request.complete(body);
        } else {
            request.state = RequestState.DONE;
        }
        service.idle.add(worker);
        dispatch(service, now);
    }

    /**
     * Takes a worker out of service. Its request goes back to the front of the queue when nothing of
     * it reached the client yet and it may still be resent (18/MDP: recover from dead workers by
     * resending requests); otherwise it fails.
     */
    private void removeWorker(Worker worker, String why, boolean sendDisconnect, long now) {
        workers.remove(worker.id);
        Service service = worker.service;
        service.workerCount--;
        service.idle.remove(worker);
        if (sendDisconnect) {
            outbox.send(worker.id, WorkerCommand.Disconnect.INSTANCE);
        }
        log.info("worker {} for '{}' removed: {} ({} left)", worker.id, service.name, why, service.workerCount);
        Request request = worker.request;
        worker.request = null;
        if (request != null) {
            service.inFlight--;
            recover(service, request, now);
        }
        dropIfUnused(service);
    }

    private void recover(Service service, Request request, long now) {
        if (request.isAbandoned()) {
            request.state = RequestState.DONE;
        } else if (!request.partialsForwarded && request.resends < config.maxResends()) {
            request.resends++;
            service.resent++;
            request.waitingSince = now; // its wait starts afresh: the time with the dead worker was not waiting
            request.state = RequestState.QUEUED;
            service.queue.addFirst(request);
            queuedTotal++;
            noteQueued(request);
            log.debug("request to '{}' goes back to the front of the queue (resend {})", service.name, request.resends);
            dispatch(service, now);
        } else {
            service.failed++;
            request.state = RequestState.DONE;
            deadlinesRemove(request);
            request.fail(Reason.WORKER_LOST, request.partialsForwarded
                    ? "the worker was lost after it had sent partial replies"
                    : "the worker was lost, and the request had been resent " + request.resends + " times");
        }
    }

    private void deadlinesRemove(Request request) {
        if (request instanceof LocalRequest local && local.deadline != Long.MAX_VALUE) {
            deadlines.remove(local);
        }
    }

    // ---- time ----------------------------------------------------------------------------------

    /** Sends due heartbeats, buries silent workers, expires waiting requests and passed deadlines. */
    void onTick(long now) {
        if (now - nextHeartbeatAt >= 0) {
            heartbeatAndExpireWorkers(now);
            nextHeartbeatAt = now + heartbeatNanos;
        }
        expireDeadlines(now);
        if (now - nextQueueExpiryAt >= 0) {
            expireQueued(now);
        }
    }

    /** When {@link #onTick} next has work to do. */
    long nextTickAt(long now) {
        long next = nextHeartbeatAt;
        if (!deadlines.isEmpty()) {
            next = earlier(next, deadlines.first().deadline);
        }
        return earlier(next, nextQueueExpiryAt);
    }

    private static long earlier(long a, long b) {
        if (a == Long.MAX_VALUE) {
            return b;
        }
        if (b == Long.MAX_VALUE) {
            return a;
        }
        return a - b <= 0 ? a : b;
    }

    private void heartbeatAndExpireWorkers(long now) {
        List<Worker> dead = null;
        for (Worker worker : workers.values()) {
            if (now - worker.expiresAt >= 0) {
                if (dead == null) {
                    dead = new ArrayList<>();
                }
                dead.add(worker);
            }
        }
        if (dead != null) {
            // First, so that their requests reach other workers before this round's heartbeats.
            for (Worker worker : dead) {
                removeWorker(worker, "silent for " + (workerExpiryNanos / 1_000_000) + " ms", false, now);
            }
        }
        for (Worker worker : workers.values()) {
            if (now - worker.lastSentAt >= heartbeatNanos / 2) {
                // 18/MDP: heartbeat every worker, idle or busy, but not one we just sent a command.
                send(worker, WorkerCommand.Heartbeat.INSTANCE, now);
            }
        }
    }

    private void expireDeadlines(long now) {
        while (!deadlines.isEmpty() && now - deadlines.first().deadline >= 0) {
            LocalRequest request = deadlines.pollFirst();
            Service service = services.get(request.service);
            if (request.state == RequestState.QUEUED) {
                if (service != null && service.queue.remove(request)) {
                    queuedTotal--;
                    service.expired++;
                }
                request.state = RequestState.DONE;
                request.fail(Reason.EXPIRED, "no worker for '" + request.service + "' took the request before its deadline");
                dropIfUnused(service);
            } else if (request.state == RequestState.ACTIVE) {
                // The worker keeps it until its FINAL, which is then dropped.
                request.cancelled = true;
                if (service != null) {
                    service.failed++;
                }
                request.fail(Reason.DEADLINE, "the worker for '" + request.service + "' sent no FINAL before the deadline");
            }
        }
    }

    /**
     * Expires requests that waited longer than the request expiry. Queues are mostly in arrival
     * order, but a resent request waits afresh at the front, so the whole queue is looked at; this
     * runs only when some request may be due.
     */
    private void expireQueued(long now) {
        nextQueueExpiryAt = Long.MAX_VALUE;
        List<Service> emptied = null;
        for (Service service : services.values()) {
            Iterator<Request> waiting = service.queue.iterator();
            while (waiting.hasNext()) {
                Request request = waiting.next();
                long expiresAt = request.waitingSince + requestExpiryNanos;
                if (now - expiresAt < 0) {
                    nextQueueExpiryAt = earlier(nextQueueExpiryAt, expiresAt);
                    continue;
                }
                waiting.remove();
                queuedTotal--;
                service.expired++;
                request.state = RequestState.DONE;
                deadlinesRemove(request);
                // 18/MDP: expire requests for which no service was registered in a reasonable time.
                log.debug("request to '{}' expired after waiting {} ms", service.name, requestExpiryNanos / 1_000_000);
                request.fail(Reason.EXPIRED, "no worker for '" + service.name + "' took the request within "
                        + requestExpiryNanos / 1_000_000 + " ms");
            }
            if (service.isUnused()) {
                if (emptied == null) {
                    emptied = new ArrayList<>();
                }
                emptied.add(service);
            }
        }
        if (emptied != null) {
            emptied.forEach(this::dropIfUnused);
        }
    }

    // ---- MMI -----------------------------------------------------------------------------------

    /**
     * 8/MMI: {@code mmi.service} answers "200" when the service named in the request's first frame
     * has a worker, else "404"; every other {@code mmi.} service answers "501". The reply repeats the
     * request's frames with the code as the last frame.
     */
    private Body mmiReply(String mmiService, Body request) {
        MmiStatus status;
        if (MdpProtocol.MMI_SERVICE.equals(mmiService)) {
            Service service = services.get(request.string(0));
            status = service != null && service.workerCount > 0 ? MmiStatus.FOUND : MmiStatus.NOT_FOUND;
        } else {
            status = MmiStatus.NOT_IMPLEMENTED;
        }
        List<byte[]> frames = new ArrayList<>(request.size() + 1);
        for (int i = 0; i < request.size(); i++) {
            frames.add(request.frame(i));
        }
        frames.add(status.code().getBytes(StandardCharsets.US_ASCII));
        return Body.of(frames);
    }

    // ---- stats and shutdown --------------------------------------------------------------------

    List<ServiceStats> stats() {
        List<ServiceStats> stats = new ArrayList<>(services.size());
        for (Service s : services.values()) {
            stats.add(new ServiceStats(s.name, s.idle.size(), s.workerCount - s.idle.size(), s.queue.size(),
                    s.inFlight, s.served, s.failed, s.resent, s.expired, s.refused));
        }
        stats.sort(Comparator.comparing(ServiceStats::service));
        return stats;
    }

    /** Sends DISCONNECT to every worker and fails every in-process request. */
    void shutdown() {
        for (Worker worker : workers.values()) {
            outbox.send(worker.id, WorkerCommand.Disconnect.INSTANCE);
            Request request = worker.request;
            if (request != null && !request.isAbandoned()) {
                request.state = RequestState.DONE;
                request.fail(Reason.BROKER_STOPPED, "the broker stopped");
            }
        }
        for (Service service : services.values()) {
            for (Request request : service.queue) {
                request.state = RequestState.DONE;
                request.fail(Reason.BROKER_STOPPED, "the broker stopped");
            }
        }
        workers.clear();
        services.clear();
        deadlines.clear();
        queuedTotal = 0;
    }

    private void send(Worker worker, WorkerCommand command, long now) {
        worker.lastSentAt = now;
        outbox.send(worker.id, command);
    }

    private Service service(String name) {
        return services.computeIfAbsent(name, Service::new);
    }

    /**
     * Forgets a service once nothing of it waits or runs, if it never had a worker (so requests for
     * made-up names leave nothing behind) or if more than {@link #RETAINED_SERVICES} services are
     * known (so workers registering made-up names cannot grow memory without bound either). Other
     * services keep their counters.
     */
    private void dropIfUnused(Service service) {
        if (service != null && service.isUnused()
                && (!service.hadWorkers || services.size() > RETAINED_SERVICES)) {
            services.remove(service.name);
        }
    }

    // ---- state ---------------------------------------------------------------------------------

    private static final class Service {
        final String name;
        /** Requests waiting for a worker, oldest first; a resent request goes to the front. */
        final ArrayDeque<Request> queue = new ArrayDeque<>();
        /** Idle workers, least recently used first. */
        final LinkedHashSet<Worker> idle = new LinkedHashSet<>();
        int workerCount;
        /** True once a worker has registered: the service then stays in the stats for good. */
        boolean hadWorkers;
        int inFlight;
        long served;
        long failed;
        long resent;
        long expired;
        long refused;

        Service(String name) {
            this.name = name;
        }

        boolean isUnused() {
            return workerCount == 0 && queue.isEmpty() && inFlight == 0;
        }
    }

    private static final class Worker {
        final RoutingId id;
        final Service service;
        long expiresAt;
        long lastSentAt;
        /** The request this worker holds, or null when idle. */
        Request request;

        Worker(RoutingId id, Service service, long expiresAt) {
            this.id = id;
            this.service = service;
            this.expiresAt = expiresAt;
        }
    }

    enum RequestState { NEW, QUEUED, ACTIVE, DONE }

    /** A request from a network client or from this process. */
    abstract static class Request {
        final String service;
        final Body body;
        /** When the request last started waiting in its queue: on arrival, and again when resent. */
        long waitingSince;
        final RoutingId clientAddress;
        RequestState state = RequestState.NEW;
        boolean partialsForwarded;
        int resends;

        Request(String service, Body body, long waitingSince, RoutingId clientAddress) {
            this.service = service;
            this.body = body;
            this.waitingSince = waitingSince;
            this.clientAddress = clientAddress;
        }

        /** True when nobody waits for this request's replies any more. */
        abstract boolean isAbandoned();

        abstract void partial(Body body);

        abstract void complete(Body body);

        abstract void fail(Reason reason, String detail);
    }

    /** A REQUEST from an MDP client on the ROUTER socket; replies go back to its routing id. */
    private final class NetworkRequest extends Request {
        NetworkRequest(RoutingId client, String service, Body body, long now) {
            super(service, body, now, client);
        }

        @Override
        boolean isAbandoned() {
            return false;
        }

        @Override
        void partial(Body body) {
            outbox.send(clientAddress, new ClientCommand.Partial(service, body));
        }

        @Override
        void complete(Body body) {
            outbox.send(clientAddress, new ClientCommand.Final(service, body));
        }

        @Override
        void fail(Reason reason, String detail) {
            // MDP/Client has no failure reply: the client's own timeout and retry take over.
            log.debug("request from {} to '{}' failed: {}", clientAddress, service, detail);
        }
    }

    /** A request submitted in this process; its handler hears everything on the broker thread. */
    static final class LocalRequest extends Request {
        final long id;
        final long deadline;
        final ReplyHandler handler;
        boolean cancelled;

        LocalRequest(long id, String service, Body body, long now, long deadline, ReplyHandler handler) {
            super(service, body, now, localAddress(id));
            this.id = id;
            this.deadline = deadline;
            this.handler = handler;
        }

        /** The client address workers see: 'L' and the id, never a routing id JeroMQ makes up. */
        private static RoutingId localAddress(long id) {
            byte[] address = new byte[9];
            address[0] = 'L';
            for (int i = 0; i < 8; i++) {
                address[8 - i] = (byte) (id >>> (8 * i));
            }
            return RoutingId.wrapReceived(address);
        }

        @Override
        boolean isAbandoned() {
            return cancelled;
        }

        @Override
        void partial(Body body) {
            tell("a PARTIAL", () -> handler.onPartial(body));
        }

        @Override
        void complete(Body body) {
            tell("the FINAL", () -> handler.onFinal(body));
        }

        @Override
        void fail(Reason reason, String detail) {
            tell("a failure", () -> handler.onFailure(new RequestFailure(reason, detail)));
        }

        /**
         * A handler that throws must not take the broker down with it; only the JVM's own failures
         * (out of memory) still end the loop.
         */
        private void tell(String what, Runnable call) {
            try {
                call.run();
            } catch (RuntimeException | LinkageError | AssertionError | StackOverflowError e) {
                log.warn("reply handler for request {} to '{}' threw on {}", id, service, what, e);
            }
        }
    }
}
