package org.mdpgateway.broker;

import org.mdpgateway.mdp.Dialect;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.mdpgateway.broker.RequestFailure.Reason;

/**
 * A snapshot of one service's counters, taken on the broker thread.
 *
 * @param idleWorkers workers registered and waiting for a request
 * @param busyWorkers workers holding a request
 * @param queued requests waiting for a worker
 * @param inFlight requests held by workers
 * @param served requests answered with a FINAL
 * @param failed requests that ended without a FINAL after a worker took them
 * @param resent requests given to another worker after theirs died
 * @param expired requests no worker took in time
 * @param refused requests refused because a queue was full
 * @param denied requests dropped because the ACL does not let their client call the service
 * @param workersByDialect the registered workers of each dialect that has any
 * @param requestsByClient requests received, by the {@link Dialect#label()} of their client, or
 *     {@code in-process} for those submitted in this process (the gateway's)
 * @param droppedByReason commands for this service's workers and clients that the broker's socket did
 *     not take, by reason: {@code peer-queue-full} (the peer reads too slowly) or {@code peer-gone}
 * @param workerList every registered worker, longest connected first
 * @param recentFailures the last few requests that ended without a FINAL, newest first, at most
 *     {@link #RECENT_FAILURES}
 * @param latencyCounts how many served requests took at most each of {@link #LATENCY_BOUNDS_MICROS}
 *     (one more entry: longer), from arrival at the broker to the FINAL; counted since the service was
 *     first seen, so two snapshots' difference is the histogram of the time between them
 */
public record ServiceStats(
        String service,
        int idleWorkers,
        int busyWorkers,
        int queued,
        int inFlight,
        long served,
        long failed,
        long resent,
        long expired,
        long refused,
        long denied,
        Map<Dialect, WorkerCounts> workersByDialect,
        Map<String, Long> requestsByClient,
        Map<String, Long> droppedByReason,
        List<WorkerStats> workerList,
        List<RecentFailure> recentFailures,
        List<Long> latencyCounts) {

    /** The label of requests submitted in this process in {@link #requestsByClient()}. */
    public static final String IN_PROCESS = BrokerCore.IN_PROCESS;

    /** How many failures {@link #recentFailures()} keeps at most. */
    public static final int RECENT_FAILURES = 8;

    /** The upper bounds of the latency buckets of {@link #latencyCounts()}, in microseconds. */
    public static final List<Long> LATENCY_BOUNDS_MICROS = List.of(500L, 1_000L, 2_000L, 5_000L, 10_000L, 20_000L,
            50_000L, 100_000L, 200_000L, 500_000L, 1_000_000L, 2_000_000L, 5_000_000L, 10_000_000L, 30_000_000L,
            60_000_000L);

    /** The maps iterate in a stable order: dialects in declaration order, clients by label. */
    public ServiceStats {
        workersByDialect = workersByDialect.isEmpty() ? Map.of()
                : Collections.unmodifiableMap(new EnumMap<>(workersByDialect));
        requestsByClient = Collections.unmodifiableMap(new TreeMap<>(requestsByClient));
        droppedByReason = Collections.unmodifiableMap(new TreeMap<>(droppedByReason));
        workerList = List.copyOf(workerList);
        recentFailures = List.copyOf(recentFailures);
        latencyCounts = List.copyOf(latencyCounts);
        if (!latencyCounts.isEmpty() && latencyCounts.size() != LATENCY_BOUNDS_MICROS.size() + 1) {
            throw new IllegalArgumentException("latencyCounts needs " + (LATENCY_BOUNDS_MICROS.size() + 1)
                    + " entries, got " + latencyCounts.size());
        }
    }

    /** The counters alone, with no worker detail, failures or latencies (for fakes and tests). */
    public ServiceStats(String service, int idleWorkers, int busyWorkers, int queued, int inFlight, long served,
            long failed, long resent, long expired, long refused, long denied, Map<Dialect, WorkerCounts> workersByDialect,
            Map<String, Long> requestsByClient, Map<String, Long> droppedByReason) {
        this(service, idleWorkers, busyWorkers, queued, inFlight, served, failed, resent, expired, refused, denied,
                workersByDialect, requestsByClient, droppedByReason, List.of(), List.of(), List.of());
    }

    /**
     * One registered worker as the broker sees it; ages are measured back from the snapshot.
     *
     * @param routingId the worker's routing id, as {@link org.mdpgateway.mdp.RoutingId#toString()} shows it
     * @param connectedMillis how long ago it registered
     * @param served requests it answered with a FINAL
     * @param silentMillis how long ago the broker last heard from it
     * @param expiresInMillis how much longer it may stay silent before the broker takes it for dead
     * @param silent true when it has missed more than two heartbeats it should have sent: it is
     *     likely gone, and will be removed when {@code expiresInMillis} runs out
     * @param holdingMillis how long ago it took the request it holds, or -1 when it is idle
     */
    public record WorkerStats(String routingId, Dialect dialect, long connectedMillis, long served,
            long silentMillis, long expiresInMillis, boolean silent, long holdingMillis) {}

    /** A request that ended without a FINAL: why, in the words of its failure, and how long ago. */
    public record RecentFailure(Reason reason, String detail, long agoMillis) {}

    /** Idle and busy workers of one dialect. */
    public record WorkerCounts(int idle, int busy) {}

    public int workers() {
        return idleWorkers + busyWorkers;
    }
}
