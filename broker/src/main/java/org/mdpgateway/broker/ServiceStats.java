package org.mdpgateway.broker;

import org.mdpgateway.mdp.Dialect;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

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
        Map<String, Long> droppedByReason) {

    /** The label of requests submitted in this process in {@link #requestsByClient()}. */
    public static final String IN_PROCESS = BrokerCore.IN_PROCESS;

    /** Both maps iterate in a stable order: dialects in declaration order, clients by label. */
    public ServiceStats {
        workersByDialect = workersByDialect.isEmpty() ? Map.of()
                : Collections.unmodifiableMap(new EnumMap<>(workersByDialect));
        requestsByClient = Collections.unmodifiableMap(new TreeMap<>(requestsByClient));
        droppedByReason = Collections.unmodifiableMap(new TreeMap<>(droppedByReason));
    }

    /** Idle and busy workers of one dialect. */
    public record WorkerCounts(int idle, int busy) {}

    public int workers() {
        return idleWorkers + busyWorkers;
    }
}
