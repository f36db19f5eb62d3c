package org.mdpgateway.broker;

import org.mdpgateway.mdp.MalformedMessageException;
import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.Liveness;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.Dialect;
import org.mdpgateway.mdp.WorkerCommand;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.mdpgateway.broker.RequestFailure.Reason;
import org.mdpgateway.mdp.MdpProtocol.MmiStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's whole state and every rule of 18/MDP and 8/MMI, without sockets or threads: the loop
 * feeds it messages and clock ticks, and it answers through an {@link Outbox}. It speaks every
 * {@link Dialect} on one socket: each peer's dialect is fixed by its first valid message, and any
 * client reaches any worker.
 *
 * <p>This class is not thread safe: it belongs to the broker's event-loop thread.
 */
final class BrokerCore {
    private static final Logger log = LoggerFactory.getLogger(BrokerCore.class);

    /** Where the core's commands for peers go. */
    interface Outbox {
        /** Sends without blocking; returns null when the socket took the command, else why not. */
        Undelivered send(RoutingId to, Dialect dialect, MdpCommand command);
    }

    /** Why a command did not leave: a ROUTER never blocks for one peer. */
    enum Undelivered {
        /** The peer's send queue was full (it reads too slowly), or its connection is closing. */
        PEER_QUEUE_FULL("peer-queue-full"),
        /** No connection has that routing id any more. */
        PEER_GONE("peer-gone");

        private final String label;

        Undelivered(String label) {
            this.label = label;
        }

        String label() {
            return label;
        }
    }

    /** How many services without workers keep their counters; see {@link #dropIfUnused}. */
    static final int RETAINED_SERVICES = 10_000;
    /**
     * How long a service with nothing but failures (no worker ever, nothing waiting) stays in the
     * stats after its newest failure, so that the commonest one, no worker for it, can be seen.
     */
    static final long FAILURES_SHOWN_NANOS = 60_000_000_000L;
    /**
     * How many peers' dialects are remembered at most; past it, new clients are still served but
     * their dialect is not held against them (workers are always remembered).
     */
    static final int REMEMBERED_PEERS = 100_000;
    /** The label of requests submitted in this process, next to the dialects' labels. */
    static final String IN_PROCESS = "in-process";
    /** Where {@link Service#requestsByClient} counts requests submitted in this process. */
    private static final int IN_PROCESS_SLOT = Dialect.values().length;
    /** {@link ServiceStats#LATENCY_BOUNDS_MICROS} in nanoseconds, for the reply path. */
    private static final long[] LATENCY_BOUNDS_NANOS =
            ServiceStats.LATENCY_BOUNDS_MICROS.stream().mapToLong(micros -> micros * 1_000).toArray();

    private final BrokerConfig config;
    private final Outbox outbox;
    private final PeerPolicy policy;
    private final long heartbeatNanos;
    private final long workerExpiryNanos;
    private final long requestExpiryNanos;
    private final long busyWorkerExpiryNanos;
    /** How long a peer that is not a worker keeps its dialect after its last message. */
    private final long peerMemoryNanos;

    /** Every service that has workers, waiting requests or requests in flight, or failed lately, by name. */
    private final Map<String, Service> services = new HashMap<>();
    /**
     * The services of {@link #services} that are kept only for their recent failures; each goes once
     * its newest failure is {@link #FAILURES_SHOWN_NANOS} old. A subset of {@code services}, so
     * bounded as it is.
     */
    private final Set<Service> keptForFailures = new LinkedHashSet<>();
    /** Every registered worker, by its routing id. */
    private final Map<RoutingId, Worker> workers = new HashMap<>();
    /** The dialect of every peer heard from lately, and its worker if it is one, by routing id. */
    private final Map<RoutingId, Peer> peers = new HashMap<>();
    /** In-process requests that have a deadline, earliest first. */
    private final TreeSet<LocalRequest> deadlines =
            new TreeSet<>(Comparator.comparingLong((LocalRequest r) -> r.deadline).thenComparingLong(r -> r.id));
    private final RateLimitedWarning invalidMessages = new RateLimitedWarning(log, "invalid messages dropped");
    private final RateLimitedWarning refusals = new RateLimitedWarning(log, "requests refused, queue full");
    private final RateLimitedWarning aclRefusals =
            new RateLimitedWarning(log, "workers refused: the ACL does not let their key serve the service");
    private final RateLimitedWarning denials = new RateLimitedWarning(log, "requests dropped, not allowed by the ACL");
    private final RateLimitedWarning revoked =
            new RateLimitedWarning(log, "messages dropped, their key has left the allowed directory");
    private int queuedTotal;
    /** Body bytes of every waiting request. */
    private long queuedBytes;
    private long nextLocalId = 1;
    /** The latest time the loop has told the core, for {@link #stats()} without a time. */
    private long latestNow;
    private long nextHeartbeatAt;
    /**
     * No waiting request expires before this; may be early, never late. Kept so the loop does not
     * scan every queue on every turn.
     */
    private long nextQueueExpiryAt = Long.MAX_VALUE;

    BrokerCore(BrokerConfig config, Outbox outbox, long now) {
        this(config, outbox, PeerPolicy.OPEN, now);
    }

    BrokerCore(BrokerConfig config, Outbox outbox, PeerPolicy policy, long now) {
        this.config = config;
        this.outbox = outbox;
        this.policy = policy;
        this.heartbeatNanos = config.heartbeatInterval().toNanos();
        this.workerExpiryNanos = config.workerExpiry().toNanos();
        this.requestExpiryNanos = config.requestExpiry().toNanos();
        this.busyWorkerExpiryNanos = config.effectiveBusyWorkerExpiry().toNanos();
        this.peerMemoryNanos = Math.max(workerExpiryNanos, requestExpiryNanos);
        this.nextHeartbeatAt = now + heartbeatNanos;
    }

    // ---- messages from peers ---------------------------------------------------------------------

    /** Handles one message from the ROUTER socket; takes ownership of {@code frames}. */
    void onMessage(RoutingId id, List<byte[]> frames, long now) {
        onMessage(id, null, frames, now);
    }

    /**
     * As {@link #onMessage(RoutingId, List, long)}, from a connection that authenticated with the
     * CURVE key {@code key} (null: no CURVE), which the {@link PeerPolicy} rules on.
     */
    void onMessage(RoutingId id, String key, List<byte[]> frames, long now) {
        latestNow = now;
        if (key != null && !policy.stillAllowed(key, now)) {
            onRevoked(id, key, now);
            return;
        }
        Dialect dialect;
        MdpCommand command;
        try {
            dialect = MdpCodec.dialectOf(frames);
            command = MdpCodec.decode(dialect, frames);
        } catch (MalformedMessageException e) {
            onInvalid(id, e.getMessage(), now);
            return;
        }
        Peer peer = peers.get(id);
        if (peer == null) {
            peer = new Peer(dialect);
            if (peers.size() < REMEMBERED_PEERS || command instanceof WorkerCommand) {
                peers.put(id, peer);
            }
        } else if (peer.dialect != dialect) {
            // The dialect is fixed by the first valid message; 18/MDP: drop an invalid message and
            // treat the peer as invalid.
            onInvalid(id, "it spoke " + peer.dialect.label() + " and then sent a " + dialect.label() + " message", now);
            return;
        }
        peer.lastSeenAt = now;
        if (command instanceof ClientCommand client) {
            onClientCommand(id, key, dialect, client, now);
        } else {
            onWorkerCommand(id, key, peer, (WorkerCommand) command, now);
        }
    }

    /** A message on a connection whose key is no longer allowed: dropped; a worker is disconnected. */
    private void onRevoked(RoutingId id, String key, long now) {
        revoked.record(now, "key " + key + " (" + id + ")");
        Peer peer = peers.get(id);
        if (peer != null && peer.worker != null) {
            removeWorker(peer.worker, "its key " + key + " is no longer in the allowed directory", true, now);
        }
    }

    private void onInvalid(RoutingId id, String problem, long now) {
        log.debug("dropped an invalid message from {}: {}", id, problem);
        invalidMessages.record(now, problem);
        Peer peer = peers.get(id);
        if (peer != null && peer.worker != null) {
            // 18/MDP: drop invalid messages and treat the peer as invalid.
            removeWorker(peer.worker, "it sent an invalid message: " + problem, true, now);
        }
    }

    private void onClientCommand(RoutingId peer, String key, Dialect dialect, ClientCommand command, long now) {
        if (!(command instanceof ClientCommand.Request request)) {
            log.debug("dropped a {} from client {}: clients only send REQUEST", command.type(), peer);
            return;
        }
        if (MdpProtocol.isMmiService(request.service())) {
            outbox.send(peer, dialect,
                    new ClientCommand.Final(request.service(), mmiReply(request.service(), request.body())));
            return;
        }
        if (key != null && !policy.mayCall(key, request.service())) {
            // MDP has no error reply: the request is dropped and counted, and the client's own retry
            // logic sees a timeout.
            service(request.service()).denied++;
            denials.record(now, "'" + request.service() + "' from key " + key);
            return;
        }
        enqueue(new NetworkRequest(peer, dialect, request.service(), request.body(), now), dialect.ordinal(), now);
    }

    private void onWorkerCommand(RoutingId id, String key, Peer peer, WorkerCommand command, long now) {
        Worker worker = peer.worker;
        if (worker == null) {
            onCommandFromStranger(id, key, peer, command, now);
            return;
        }
        // 18/MDP: any command except DISCONNECT acts as a heartbeat.
        worker.liveness.heard(now, livenessOf(worker));
        if (command instanceof WorkerCommand.Heartbeat) {
            return;
        }
        if (command instanceof WorkerCommand.Disconnect) {
            removeWorker(worker, "it sent DISCONNECT", false, now);
        } else if (command instanceof WorkerCommand.Partial partial) {
            if (isReplyToCurrentRequest(worker, partial, now)) {
                forwardPartial(worker, partial.body(), now);
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

    private void onCommandFromStranger(RoutingId id, String key, Peer peer, WorkerCommand command, long now) {
        Dialect dialect = peer.dialect;
        if (command instanceof WorkerCommand.Ready ready) {
            if (key != null && !policy.mayServe(key, ready.service())) {
                // A refused worker retries every second or so: rate-limited, so it cannot flood the log.
                aclRefusals.record(now, "worker " + id + " for '" + ready.service() + "', key " + key);
                outbox.send(id, dialect, WorkerCommand.Disconnect.INSTANCE);
                return;
            }
            register(id, peer, ready.service(), now);
        } else if (!(command instanceof WorkerCommand.Disconnect)) {
            // 18/MDP: a valid but unexpected command gets DISCONNECT, then nothing more.
            log.debug("{} from unregistered peer {}; sending DISCONNECT", command.type(), id);
            outbox.send(id, dialect, WorkerCommand.Disconnect.INSTANCE);
        }
    }

    /**
     * How long {@code worker} may stay silent from now. Workers of dialects that heartbeat only while
     * idle get the busy expiry while they hold a request.
     */
    private long livenessOf(Worker worker) {
        return worker.request != null && !worker.dialect.heartbeatsWhileBusy() ? busyWorkerExpiryNanos
                : workerExpiryNanos;
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

    private void register(RoutingId id, Peer peer, String serviceName, long now) {
        Dialect dialect = peer.dialect;
        if (MdpProtocol.isMmiService(serviceName)) {
            // 8/MMI: disconnect workers that try to register in the mmi. namespace.
            log.info("refused worker {} for '{}': the mmi. namespace belongs to the broker", id, serviceName);
            outbox.send(id, dialect, WorkerCommand.Disconnect.INSTANCE);
            return;
        }
        Service service = service(serviceName);
        Worker worker = new Worker(id, dialect, service, new Liveness(now, workerExpiryNanos), now);
        workers.put(id, worker);
        peer.worker = worker;
        service.workerCount++;
        service.workersByDialect[dialect.ordinal()]++;
        service.hadWorkers = true;
        service.idle.add(worker);
        log.info("worker {} ({}) registered for '{}' ({} now)", id, dialect.label(), serviceName,
                service.workerCount);
        dispatch(service, now);
    }

    // ---- requests ------------------------------------------------------------------------------

    /** Submits an in-process request; the handler hears of it on this thread. */
    LocalRequest submit(String serviceName, Body body, long deadline, ReplyHandler handler, long now) {
        return submit(serviceName, body, now, deadline, handler, now);
    }

    /** As {@link #submit(String, Body, long, ReplyHandler, long)}, for a caller whose deadline started at {@code submittedAt}. */
    LocalRequest submit(String serviceName, Body body, long submittedAt, long deadline, ReplyHandler handler, long now) {
        LocalRequest request = new LocalRequest(nextLocalId++, serviceName, body, submittedAt, now, deadline, handler);
        if (MdpProtocol.isMmiService(serviceName)) {
            endWithReply(request, mmiReply(serviceName, body));
            return request;
        }
        if (deadline != Long.MAX_VALUE) {
            deadlines.add(request);
        }
        enqueue(request, IN_PROCESS_SLOT, now);
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
                leftQueue(request);
            }
            end(request);
            dropIfUnused(service, now);
        }
        // An active request stays with its worker until the FINAL, which is then dropped.
        log.debug("request {} to '{}' cancelled", request.id, request.service);
    }

    /** Queues {@code request}, counted under {@code clientSlot}: its client's dialect, or in-process. */
    private void enqueue(Request request, int clientSlot, long now) {
        Service service = service(request.service);
        service.requestsByClient[clientSlot]++;
        if (service.queue.isEmpty() && !service.idle.isEmpty()) {
            assign(service, request, now); // nothing waits ahead of it: it never enters the queue
            return;
        }
        String full = queueFull(service, request);
        if (full != null) {
            service.refused++;
            service.noteFailure(Reason.REFUSED, full, now);
            refusals.record(now, full);
            endWithFailure(request, Reason.REFUSED, full);
            dropIfUnused(service, now);
            return;
        }
        request.state = RequestState.QUEUED;
        service.queue.add(request);
        enteredQueue(request);
        dispatch(service, now);
    }

    /** Why {@code request} may not wait in {@code service}'s queue, naming the limit, or null when it may. */
    private String queueFull(Service service, Request request) {
        if (service.queue.size() >= config.maxQueuedPerService()) {
            return "the queue for '" + request.service + "' is full: " + service.queue.size()
                    + " requests wait, the most per service (--max-queued)";
        }
        if (queuedTotal >= config.maxQueuedTotal()) {
            return "the broker's queues are full: " + queuedTotal + " requests wait, the most in all (--max-queued-total)";
        }
        int fromClient = service.queue.waitingFrom(request.clientAddress);
        if (fromClient >= config.maxQueuedPerClient()) {
            return "this client already has " + fromClient + " requests waiting for '" + request.service
                    + "', the most per client (--max-queued-per-client)";
        }
        if (queuedBytes + request.bytes > config.maxQueuedBytes()) {
            return "the broker's queues hold " + queuedBytes + " bytes of requests; " + request.bytes
                    + " more would pass the most in all, " + config.maxQueuedBytes() + " (--max-queued-bytes)";
        }
        return null;
    }

    private void enteredQueue(Request request) {
        queuedTotal++;
        queuedBytes += request.bytes;
        noteQueued(request);
    }

    private void leftQueue(Request request) {
        queuedTotal--;
        queuedBytes -= request.bytes;
    }

    private void noteQueued(Request request) {
        if (request.expiresInQueue()) {
            nextQueueExpiryAt = earlier(nextQueueExpiryAt, request.waitingSince + requestExpiryNanos);
        }
    }

    /** Gives waiting requests to idle workers: least recently used worker, the queue's next request. */
    private void dispatch(Service service, long now) {
        while (!service.idle.isEmpty() && !service.queue.isEmpty()) {
            Request request = service.queue.poll();
            leftQueue(request);
            assign(service, request, now);
        }
    }

    /** Hands {@code request} to the service's least recently used idle worker; there must be one. */
    private void assign(Service service, Request request, long now) {
        Iterator<Worker> leastRecentlyUsed = service.idle.iterator();
        Worker worker = leastRecentlyUsed.next();
        leastRecentlyUsed.remove();
        request.state = RequestState.ACTIVE;
        request.partialsForwarded = false;
        worker.request = request;
        worker.assignedAt = now;
        worker.liveness.heardAtLeast(now, livenessOf(worker));
        service.inFlight++;
        send(worker, new WorkerCommand.Request(request.clientAddress, request.body), now);
    }

    private void forwardPartial(Worker worker, Body body, long now) {
        Request request = worker.request;
        request.partialsForwarded = true;
        if (!request.isAbandoned()) {
            request.partial(body);
            if (request.isAbandoned()) {
                worker.service.failed++; // its collected reply grew past the limit
                worker.service.noteFailure(Reason.REPLY_TOO_LARGE, replyTooLarge(), now);
            }
        }
    }

    private void forwardFinal(Worker worker, Body body, long now) {
        Request request = worker.request;
        Service service = worker.service;
        worker.request = null;
        worker.liveness.heard(now, workerExpiryNanos);
        service.inFlight--;
        if (!request.isAbandoned()) {
            endWithReply(request, body);
            if (request.isAbandoned()) {
                service.failed++; // the collected reply grew past the limit with this FINAL
                service.noteFailure(Reason.REPLY_TOO_LARGE, replyTooLarge(), now);
            } else {
                service.served++;
                worker.served++;
                service.recordLatency(now - request.receivedAt);
            }
        } else {
            end(request);
        }
        service.idle.add(worker);
        dispatch(service, now);
    }

    private String replyTooLarge() {
        return "the reply grew past the " + config.maxCollectedReplyBytes()
                + " bytes the broker collects for an MDP/0.1 client";
    }

    /**
     * Takes a worker out of service. Its request goes back to the front of the queue when nothing of
     * it reached the client yet and it may still be resent (18/MDP: recover from dead workers by
     * resending requests); otherwise it fails.
     */
    private void removeWorker(Worker worker, String why, boolean sendDisconnect, long now) {
        workers.remove(worker.id);
        Peer peer = peers.get(worker.id);
        if (peer != null) {
            peer.worker = null;
        }
        Service service = worker.service;
        service.workerCount--;
        service.workersByDialect[worker.dialect.ordinal()]--;
        service.idle.remove(worker);
        if (sendDisconnect) {
            outbox.send(worker.id, worker.dialect, WorkerCommand.Disconnect.INSTANCE);
        }
        log.info("worker {} for '{}' removed: {} ({} left)", worker.id, service.name, why, service.workerCount);
        Request request = worker.request;
        worker.request = null;
        if (request != null) {
            service.inFlight--;
            recover(service, request, now);
        }
        dropIfUnused(service, now);
    }

    private void recover(Service service, Request request, long now) {
        if (request.isAbandoned()) {
            end(request);
        } else if (!request.partialsForwarded && request.resends < config.maxResends()) {
            request.resends++;
            service.resent++;
            request.waitingSince = now; // its wait starts afresh: the time with the dead worker was not waiting
            request.state = RequestState.QUEUED;
            service.queue.addResent(request);
            enteredQueue(request);
            log.debug("request to '{}' goes back to the front of the queue (resend {})", service.name, request.resends);
            dispatch(service, now);
        } else {
            service.failed++;
            String detail = request.partialsForwarded ? "the worker was lost after it had sent partial replies"
                    : "the worker was lost, and the request had been resent " + request.resends + " times";
            service.noteFailure(Reason.WORKER_LOST, detail, now);
            endWithFailure(request, Reason.WORKER_LOST, detail);
        }
    }

    /** The one way a request ends: it is done, and no deadline watches it any more. */
    private void end(Request request) {
        request.state = RequestState.DONE;
        deadlinesRemove(request);
    }

    /** Ends a request with its FINAL, which its client hears. */
    private void endWithReply(Request request, Body reply) {
        end(request);
        request.complete(reply);
    }

    /** Ends a request with a failure its client hears, saying why. */
    private void endWithFailure(Request request, Reason reason, String detail) {
        end(request);
        request.fail(reason, detail);
    }

    private void deadlinesRemove(Request request) {
        if (request instanceof LocalRequest local && local.deadline != Long.MAX_VALUE) {
            deadlines.remove(local);
        }
    }

    // ---- time ----------------------------------------------------------------------------------

    /** Sends due heartbeats, buries silent workers, expires waiting requests and passed deadlines. */
    void onTick(long now) {
        latestNow = now;
        if (now - nextHeartbeatAt >= 0) {
            heartbeatAndExpireWorkers(now);
            forgetQuietPeers(now);
            forgetOldFailures(now);
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
            if (worker.liveness.isExpired(now)) {
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

    /** Forgets the dialect of peers that are not workers and have been quiet a while. */
    private void forgetQuietPeers(long now) {
        peers.values().removeIf(peer -> peer.worker == null && now - peer.lastSeenAt - peerMemoryNanos >= 0);
    }

    private void expireDeadlines(long now) {
        while (!deadlines.isEmpty() && now - deadlines.first().deadline >= 0) {
            LocalRequest request = deadlines.pollFirst();
            Service service = services.get(request.service);
            if (request.state == RequestState.QUEUED) {
                String detail = "no worker for '" + request.service + "' took the request within its deadline of "
                        + request.timeoutMillis() + " ms";
                if (service != null && service.queue.remove(request)) {
                    leftQueue(request);
                    service.expired++;
                    service.noteFailure(Reason.EXPIRED, detail, now);
                }
                endWithFailure(request, Reason.EXPIRED, detail);
                dropIfUnused(service, now);
            } else if (request.state == RequestState.ACTIVE) {
                // The worker keeps it until its FINAL, which is then dropped.
                request.cancelled = true;
                String detail = "the worker for '" + request.service + "' sent no FINAL within the request's deadline of "
                        + request.timeoutMillis() + " ms";
                if (service != null) {
                    service.failed++;
                    service.noteFailure(Reason.DEADLINE, detail, now);
                }
                request.fail(Reason.DEADLINE, detail);
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
            service.queue.removeIf(request -> {
                if (!request.expiresInQueue()) {
                    return false; // its caller's deadline governs it
                }
                long expiresAt = request.waitingSince + requestExpiryNanos;
                if (now - expiresAt < 0) {
                    nextQueueExpiryAt = earlier(nextQueueExpiryAt, expiresAt);
                    return false;
                }
                return true;
            }, request -> {
                leftQueue(request);
                service.expired++;
                // 18/MDP: expire requests for which no service was registered in a reasonable time.
                log.debug("request to '{}' expired after waiting {} ms", service.name, requestExpiryNanos / 1_000_000);
                String detail = "no worker for '" + service.name + "' took the request within the broker's request "
                        + "expiry of " + requestExpiryNanos / 1_000_000 + " ms";
                service.noteFailure(Reason.EXPIRED, detail, now);
                endWithFailure(request, Reason.EXPIRED, detail);
            });
            if (service.isUnused()) {
                if (emptied == null) {
                    emptied = new ArrayList<>();
                }
                emptied.add(service);
            }
        }
        if (emptied != null) {
            emptied.forEach(service -> dropIfUnused(service, now));
        }
    }

    // ---- MMI -----------------------------------------------------------------------------------

    /**
     * 8/MMI: {@code mmi.service} answers "200" when the service named in the request's last frame has
     * a worker, else "404"; every other {@code mmi.} service answers "501". As the reference broker
     * (the zguide's mdbroker) does, the reply is the request's frames with the last one replaced by
     * the code: a one-frame request gets the code alone.
     */
    private Body mmiReply(String mmiService, Body request) {
        MmiStatus status;
        int last = request.size() - 1;
        if (MdpProtocol.MMI_SERVICE.equals(mmiService)) {
            Service service = services.get(request.string(last));
            status = service != null && service.workerCount > 0 ? MmiStatus.FOUND : MmiStatus.NOT_FOUND;
        } else {
            status = MmiStatus.NOT_IMPLEMENTED;
        }
        List<Body> parts = new ArrayList<>(2);
        if (last > 0) {
            parts.add(Body.of(request.frames().subList(0, last)));
        }
        parts.add(Body.ofStrings(status.code()));
        return Body.concat(parts);
    }

    // ---- stats and shutdown --------------------------------------------------------------------

    /** As {@link #stats(long)}, with ages measured from the latest time the loop gave the core. */
    List<ServiceStats> stats() {
        return stats(latestNow);
    }

    /**
     * A snapshot of every service, its workers and its recent failures, ages measured back from
     * {@code now}. It walks every worker, so it costs in proportion to their number; the request
     * path only bumps the counters it reads.
     */
    List<ServiceStats> stats(long now) {
        List<ServiceStats> stats = new ArrayList<>(services.size());
        Map<Service, List<ServiceStats.WorkerStats>> workerStats = workerStats(now);
        for (Service s : services.values()) {
            int[] idleByDialect = new int[Dialect.values().length];
            for (Worker w : s.idle) {
                idleByDialect[w.dialect.ordinal()]++;
            }
            Map<Dialect, ServiceStats.WorkerCounts> byDialect = new EnumMap<>(Dialect.class);
            for (Dialect d : Dialect.values()) {
                int registered = s.workersByDialect[d.ordinal()];
                if (registered > 0) {
                    byDialect.put(d, new ServiceStats.WorkerCounts(idleByDialect[d.ordinal()],
                            registered - idleByDialect[d.ordinal()]));
                }
            }
            Map<String, Long> dropped = new HashMap<>();
            for (Undelivered reason : Undelivered.values()) {
                if (s.dropped[reason.ordinal()] > 0) {
                    dropped.put(reason.label(), s.dropped[reason.ordinal()]);
                }
            }
            List<Long> latencies = new ArrayList<>(s.latencyCounts.length);
            for (long n : s.latencyCounts) {
                latencies.add(n);
            }
            stats.add(new ServiceStats(s.name, s.idle.size(), s.workerCount - s.idle.size(), s.queue.size(),
                    s.inFlight, s.served, s.failed, s.resent, s.expired, s.refused, s.denied, byDialect,
                    requestsByClient(s), dropped, workerStats.getOrDefault(s, List.of()), s.recentFailures(now), latencies));
        }
        stats.sort(Comparator.comparing(ServiceStats::service));
        return stats;
    }

    /** Every service's workers, longest connected first, in one walk over the workers. */
    private Map<Service, List<ServiceStats.WorkerStats>> workerStats(long now) {
        Map<Service, List<ServiceStats.WorkerStats>> byService = new HashMap<>();
        for (Worker w : workers.values()) {
            List<ServiceStats.WorkerStats> list = byService.computeIfAbsent(w.service, k -> new ArrayList<>());
            long silentNanos = w.liveness.silentNanos(now);
            // A busy worker of a dialect that does not heartbeat while busy is expected to be quiet.
            boolean expectedToSpeak = w.request == null || w.dialect.heartbeatsWhileBusy();
            list.add(new ServiceStats.WorkerStats(w.id.toString(), w.dialect, millis(now - w.registeredAt), w.served,
                    millis(silentNanos), Math.max(0, millis(w.liveness.remainingNanos(now))),
                    expectedToSpeak && silentNanos > 2 * heartbeatNanos,
                    w.request == null ? -1 : millis(now - w.assignedAt)));
        }
        byService.values().forEach(list ->
                list.sort(Comparator.comparingLong(ServiceStats.WorkerStats::connectedMillis).reversed()));
        return byService;
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }

    /** A service's request counts by client label, leaving out those with none. */
    private static Map<String, Long> requestsByClient(Service s) {
        Map<String, Long> counts = new HashMap<>();
        for (int slot = 0; slot < s.requestsByClient.length; slot++) {
            if (s.requestsByClient[slot] > 0) {
                counts.put(slot == IN_PROCESS_SLOT ? IN_PROCESS : Dialect.values()[slot].label(),
                        s.requestsByClient[slot]);
            }
        }
        return counts;
    }

    /** Sends DISCONNECT to every worker and fails every in-process request. */
    void shutdown() {
        for (Worker worker : workers.values()) {
            outbox.send(worker.id, worker.dialect, WorkerCommand.Disconnect.INSTANCE);
            Request request = worker.request;
            if (request != null && !request.isAbandoned()) {
                endWithFailure(request, Reason.BROKER_STOPPED, "the broker stopped");
            }
        }
        for (Service service : services.values()) {
            service.queue.forEach(request -> {
                endWithFailure(request, Reason.BROKER_STOPPED, "the broker stopped");
            });
        }
        workers.clear();
        peers.clear();
        services.clear();
        deadlines.clear();
        queuedTotal = 0;
        queuedBytes = 0;
    }

    private void send(Worker worker, WorkerCommand command, long now) {
        worker.lastSentAt = now;
        Undelivered undelivered = outbox.send(worker.id, worker.dialect, command);
        if (undelivered != null) {
            worker.service.dropped[undelivered.ordinal()]++;
            if (command instanceof WorkerCommand.Request) {
                // The worker never got it: another worker should, and this one cannot be reached.
                removeWorker(worker, "its REQUEST could not be delivered (" + undelivered.label() + ")", false, now);
            }
        }
    }

    private Service service(String name) {
        return services.computeIfAbsent(name, Service::new);
    }

    /**
     * Forgets a service once nothing of it waits or runs, if it never had a worker (so requests for
     * made-up names leave nothing behind) or if more than {@link #RETAINED_SERVICES} services are
     * known (so workers registering made-up names cannot grow memory without bound either). Other
     * services keep their counters. One that never had a worker but failed lately stays, within the
     * same bound, until its newest failure is {@link #FAILURES_SHOWN_NANOS} old
     * ({@link #forgetOldFailures}).
     */
    private void dropIfUnused(Service service, long now) {
        if (service == null || !service.isUnused()) {
            return;
        }
        boolean withinBound = services.size() <= RETAINED_SERVICES;
        if (withinBound && service.hadWorkers) {
            return;
        }
        if (withinBound && service.failedSince(now - FAILURES_SHOWN_NANOS)) {
            keptForFailures.add(service);
            return;
        }
        services.remove(service.name, service);
        keptForFailures.remove(service);
    }

    /** Drops the services kept for their failures once those are old; a service in use again leaves the set. */
    private void forgetOldFailures(long now) {
        keptForFailures.removeIf(service -> {
            if (!service.isUnused()) {
                return true; // dropIfUnused looks at it again once it is unused
            }
            if (service.failedSince(now - FAILURES_SHOWN_NANOS)) {
                return false;
            }
            services.remove(service.name, service);
            return true;
        });
    }

    // ---- state ---------------------------------------------------------------------------------

    private static final class Service {
        final String name;
        /** Requests waiting for a worker, fairly across clients; see {@link FairQueue}. */
        final FairQueue queue = new FairQueue();
        /** Idle workers, least recently used first. */
        final LinkedHashSet<Worker> idle = new LinkedHashSet<>();
        int workerCount;
        /** Registered workers by {@link Dialect#ordinal()}. */
        final int[] workersByDialect = new int[Dialect.values().length];
        /** Requests received, by {@link Dialect#ordinal()} of their client, then in-process. */
        final long[] requestsByClient = new long[IN_PROCESS_SLOT + 1];
        /** True once a worker has registered: the service then stays in the stats for good. */
        boolean hadWorkers;
        int inFlight;
        long served;
        long failed;
        long resent;
        long expired;
        long refused;
        /** Requests dropped because the ACL does not let their client call this service. */
        long denied;
        /** Commands of this service the socket did not take, by {@link Undelivered#ordinal()}. */
        final long[] dropped = new long[Undelivered.values().length];
        /** Served requests by latency bucket ({@link #LATENCY_BOUNDS_NANOS}, then longer). */
        final long[] latencyCounts = new long[LATENCY_BOUNDS_NANOS.length + 1];
        /** The last failures, a ring: {@link #failuresNoted} mod its size is where the next goes. */
        final Reason[] failureReasons = new Reason[ServiceStats.RECENT_FAILURES];
        final String[] failureDetails = new String[ServiceStats.RECENT_FAILURES];
        final long[] failureTimes = new long[ServiceStats.RECENT_FAILURES];
        long failuresNoted;

        Service(String name) {
            this.name = name;
        }

        /** Remembers a failure in the ring; its detail is the string the request's caller gets anyway. */
        void noteFailure(Reason reason, String detail, long now) {
            int slot = (int) (failuresNoted++ % ServiceStats.RECENT_FAILURES);
            failureReasons[slot] = reason;
            failureDetails[slot] = detail;
            failureTimes[slot] = now;
        }

        /** Whether its newest failure happened at {@code since} or later. */
        boolean failedSince(long since) {
            return failuresNoted > 0
                    && failureTimes[(int) ((failuresNoted - 1) % ServiceStats.RECENT_FAILURES)] - since >= 0;
        }

        List<ServiceStats.RecentFailure> recentFailures(long now) {
            int kept = (int) Math.min(failuresNoted, ServiceStats.RECENT_FAILURES);
            List<ServiceStats.RecentFailure> list = new ArrayList<>(kept);
            for (int i = 1; i <= kept; i++) {
                int slot = (int) ((failuresNoted - i) % ServiceStats.RECENT_FAILURES);
                list.add(new ServiceStats.RecentFailure(failureReasons[slot], failureDetails[slot],
                        millis(now - failureTimes[slot])));
            }
            return list;
        }

        void recordLatency(long nanos) {
            int bucket = 0;
            while (bucket < LATENCY_BOUNDS_NANOS.length && nanos > LATENCY_BOUNDS_NANOS[bucket]) {
                bucket++;
            }
            latencyCounts[bucket]++;
        }

        boolean isUnused() {
            return workerCount == 0 && queue.isEmpty() && inFlight == 0;
        }
    }

    private static final class Worker {
        final RoutingId id;
        final Dialect dialect;
        final Service service;
        /** 18/MDP: silence for liveness x interval (or the busy expiry) and the worker is dead. */
        final Liveness liveness;
        long lastSentAt;
        /** The request this worker holds, or null when idle. */
        Request request;
        /** When it took {@link #request}. */
        long assignedAt;
        final long registeredAt;
        /** Requests it answered with a FINAL. */
        long served;

        Worker(RoutingId id, Dialect dialect, Service service, Liveness liveness, long registeredAt) {
            this.id = id;
            this.dialect = dialect;
            this.service = service;
            this.liveness = liveness;
            this.registeredAt = registeredAt;
        }
    }

    /** A peer heard from: its dialect, fixed by its first valid message, and its worker if any. */
    private static final class Peer {
        final Dialect dialect;
        long lastSeenAt;
        Worker worker;

        Peer(Dialect dialect) {
            this.dialect = dialect;
        }
    }

    enum RequestState { NEW, QUEUED, ACTIVE, DONE }

    /** A request from a network client or from this process. */
    abstract static class Request {
        final String service;
        final Body body;
        /** The body's size, counted against {@link BrokerConfig#maxQueuedBytes()} while it waits. */
        final long bytes;
        /** When the request last started waiting in its queue: on arrival, and again when resent. */
        long waitingSince;
        /** When it reached the broker: its latency runs from here to its FINAL. */
        final long receivedAt;
        final RoutingId clientAddress;
        RequestState state = RequestState.NEW;
        boolean partialsForwarded;
        int resends;

        Request(String service, Body body, long waitingSince, RoutingId clientAddress) {
            this.service = service;
            this.body = body;
            this.bytes = body.byteCount();
            this.waitingSince = waitingSince;
            this.receivedAt = waitingSince;
            this.clientAddress = clientAddress;
        }

        /** True when nobody waits for this request's replies any more. */
        abstract boolean isAbandoned();

        /**
         * Whether the broker's request expiry ends this request's wait: it does for network clients,
         * which have no deadline the broker knows of, not for a caller in this process that gave one.
         */
        boolean expiresInQueue() {
            return true;
        }

        abstract void partial(Body body);

        abstract void complete(Body body);

        abstract void fail(Reason reason, String detail);
    }

    /**
     * A REQUEST from an MDP client on the ROUTER socket; replies go back to its routing id, in its
     * dialect. An MDP/0.1 client takes one reply: its PARTIALs are collected, up to a byte limit.
     */
    private final class NetworkRequest extends Request {
        final Dialect dialect;
        /** The PARTIALs collected for a client without PARTIAL, or null. */
        List<Body> collected;
        long collectedBytes;
        boolean abandoned;

        NetworkRequest(RoutingId client, Dialect dialect, String service, Body body, long now) {
            super(service, body, now, client);
            this.dialect = dialect;
        }

        @Override
        boolean isAbandoned() {
            return abandoned;
        }

        @Override
        void partial(Body body) {
            if (dialect.hasPartials()) {
                deliver(new ClientCommand.Partial(service, body));
                return;
            }
            if (collected == null) {
                collected = new ArrayList<>();
            }
            collected.add(body);
            collectedBytes += body.byteCount();
            if (collectedBytes > config.maxCollectedReplyBytes()) {
                giveUpCollecting();
            }
        }

        @Override
        void complete(Body body) {
            if (collected == null) {
                deliver(new ClientCommand.Final(service, body));
                return;
            }
            collectedBytes += body.byteCount();
            if (collectedBytes > config.maxCollectedReplyBytes()) {
                giveUpCollecting();
                return;
            }
            collected.add(body);
            deliver(new ClientCommand.Final(service, Body.concat(collected)));
            collected = null;
        }

        /**
         * Sends a reply to the client. One that does not leave is counted; after a lost PARTIAL the
         * rest of the reply would look whole but is not, so nothing more of it is sent and the
         * client's own timeout and retry take over.
         */
        private void deliver(ClientCommand reply) {
            Undelivered undelivered = outbox.send(clientAddress, dialect, reply);
            if (undelivered != null) {
                Service s = services.get(service);
                if (s != null) {
                    s.dropped[undelivered.ordinal()]++;
                }
                if (reply instanceof ClientCommand.Partial) {
                    abandoned = true;
                }
                log.debug("reply to {} for '{}' dropped: {}", clientAddress, service, undelivered.label());
            }
        }

        /** The reply grew too large to collect: the client gets nothing, as if the worker had died. */
        private void giveUpCollecting() {
            abandoned = true;
            collected = null;
            log.debug("request from {} to '{}' failed: its reply passed {} bytes, the most collected for an {} client",
                    clientAddress, service, config.maxCollectedReplyBytes(), dialect.label());
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
        final long submittedAt;
        final long deadline;
        final ReplyHandler handler;
        boolean cancelled;

        LocalRequest(long id, String service, Body body, long submittedAt, long now, long deadline,
                ReplyHandler handler) {
            super(service, body, now, localAddress(id));
            this.id = id;
            this.submittedAt = submittedAt;
            this.deadline = deadline;
            this.handler = handler;
        }

        @Override
        boolean expiresInQueue() {
            return deadline == Long.MAX_VALUE;
        }

        long timeoutMillis() {
            return (deadline - submittedAt) / 1_000_000;
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
