package org.mdpgateway.bench;

/**
 * One timed run of one side of a scenario.
 *
 * @param ops operations completed in the window (requests, or parts for streams)
 * @param nanos length of the window
 * @param p50Us median latency of one request, microseconds
 * @param p99Us 99th percentile
 * @param p999Us 99.9th percentile
 * @param errors requests that failed or got a wrong answer
 * @param serverCpuNanos CPU of the server processes (broker, relay, gateway, Javalin) in the window
 * @param workerCpuNanos CPU of a separate worker process, when there is one
 * @param generatorCpuNanos CPU of the load generator (the bench's own threads, or wrk)
 * @param foreignShare share of the machine used by processes that are not ours
 */
record Trial(long ops, long nanos, double p50Us, double p99Us, double p999Us, long errors,
        long serverCpuNanos, long workerCpuNanos, long generatorCpuNanos, double foreignShare) {

    double opsPerSecond() {
        return ops * 1e9 / nanos;
    }

    double serverCpuUsPerOp() {
        return ops == 0 ? Double.NaN : serverCpuNanos / 1e3 / ops;
    }

    double workerCpuUsPerOp() {
        return ops == 0 ? Double.NaN : workerCpuNanos / 1e3 / ops;
    }

    double generatorCpuUsPerOp() {
        return ops == 0 ? Double.NaN : generatorCpuNanos / 1e3 / ops;
    }

    /** The generator's share of the whole machine (all cores) during the window. */
    double generatorShare(int cores) {
        return (double) generatorCpuNanos / ((double) nanos * cores);
    }

    /** A trial with nothing served measures nothing; it is retried, not averaged. */
    boolean failed() {
        return ops == 0;
    }
}
