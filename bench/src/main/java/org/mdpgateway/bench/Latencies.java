package org.mdpgateway.bench;

import java.util.Arrays;

/** Latencies recorded by one generator thread, merged once the window has closed. */
final class Latencies {
    private long[] nanos = new long[1 << 14];
    private int count;

    void record(long latencyNanos) {
        if (count == nanos.length) {
            nanos = Arrays.copyOf(nanos, count * 2);
        }
        nanos[count++] = latencyNanos;
    }

    /** p50, p99 and p99.9 in microseconds over every recorder given. */
    static double[] percentilesUs(Iterable<Latencies> recorders) {
        int total = 0;
        for (Latencies l : recorders) {
            total += l.count;
        }
        long[] all = new long[total];
        int at = 0;
        for (Latencies l : recorders) {
            System.arraycopy(l.nanos, 0, all, at, l.count);
            at += l.count;
        }
        Arrays.sort(all);
        return new double[] {at(all, 0.50), at(all, 0.99), at(all, 0.999)};
    }

    private static double at(long[] sorted, double quantile) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1);
        return sorted[Math.max(0, index)] / 1e3;
    }
}
