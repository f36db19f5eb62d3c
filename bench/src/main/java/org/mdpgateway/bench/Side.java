package org.mdpgateway.bench;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/** One side of a scenario, the candidate or its limit: something that can run a timed trial. */
@FunctionalInterface
interface Side {
    Trial run(Duration window);

    /** What a generator returned, before CPU accounting. */
    record Load(long ops, long nanos, long errors, double p50Us, double p99Us, double p999Us) {}

    /**
     * Runs {@code load} and charges CPU: {@code servers} are the server processes, {@code worker} a
     * separate worker process or -1; the generator is the bench itself with its ended children (wrk).
     */
    static Trial measured(List<Long> servers, long worker, Supplier<Load> load) {
        List<Long> pids = new java.util.ArrayList<>(servers);
        if (worker > 0) {
            pids.add(worker);
        }
        CpuMeter.Sample before = CpuMeter.sample(pids);
        Load l = load.get();
        CpuMeter.Sample after = CpuMeter.sample(pids);
        long serverCpu = 0;
        for (int i = 0; i < servers.size(); i++) {
            serverCpu += after.cpuNanosSince(before, i + 1);
        }
        long workerCpu = worker > 0 ? after.cpuNanosSince(before, servers.size() + 1) : 0;
        return new Trial(l.ops(), l.nanos(), l.p50Us(), l.p99Us(), l.p999Us(), l.errors(), serverCpu, workerCpu,
                after.cpuNanosSince(before, 0), after.foreignShare(before));
    }

    static Load of(ClosedLoop.Result r) {
        double[] p = r.percentilesUs();
        return new Load(r.ops(), r.nanos(), r.errors(), p[0], p[1], p[2]);
    }

    static Load of(Wrk.Result r, int opsPerRequest) {
        return new Load(r.requests() * opsPerRequest, r.nanos(), r.errors(), r.p50Us(), r.p99Us(), r.p999Us());
    }
}
