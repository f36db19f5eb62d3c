package org.mdpgateway.broker;

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
        long refused) {

    public int workers() {
        return idleWorkers + busyWorkers;
    }
}
