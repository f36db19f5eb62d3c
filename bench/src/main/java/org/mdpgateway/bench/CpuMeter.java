package org.mdpgateway.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time from Linux's {@code /proc}: of whole processes, and of the machine, so a trial can tell
 * how much of the machine went to processes that are not ours (see {@link Sample#foreignShare}).
 */
final class CpuMeter {
    /** Kernel clock ticks per second; 100 on every mainstream Linux build. */
    private static final long TICKS_PER_SECOND = 100;
    private static final long NANOS_PER_TICK = 1_000_000_000L / TICKS_PER_SECOND;

    private CpuMeter() {}

    /** User plus system CPU of process {@code pid} so far, in nanoseconds; 0 once it has gone. */
    static long processCpuNanos(long pid) {
        return cpuNanos(pid, false);
    }

    /**
     * As {@link #processCpuNanos}, plus the CPU of its children that have ended and been waited for:
     * for the bench itself, that is where a finished {@code wrk} run's CPU goes.
     */
    static long processAndEndedChildrenCpuNanos(long pid) {
        return cpuNanos(pid, true);
    }

    private static long cpuNanos(long pid, boolean withEndedChildren) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name in parentheses may hold spaces; fields are counted after it.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long utime = Long.parseLong(fields[11]);
            long stime = Long.parseLong(fields[12]);
            long children = withEndedChildren ? Long.parseLong(fields[13]) + Long.parseLong(fields[14]) : 0;
            return (utime + stime + children) * NANOS_PER_TICK;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Threads of process {@code pid} now, or -1. */
    static int threadCount(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("Threads:")) {
                    return Integer.parseInt(line.substring(8).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return -1;
    }

    /** Busy and total ticks of the whole machine so far (the {@code cpu} line of /proc/stat). */
    static long[] machineTicks() {
        try {
            String line = Files.readAllLines(Path.of("/proc/stat")).get(0);
            String[] f = line.trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < Math.min(f.length, 9); i++) { // user..steal; guest is inside user
                total += Long.parseLong(f[i]);
            }
            long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]); // idle + iowait
            return new long[] {total - idle, total};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    /**
     * Our processes' CPU and the machine's. Index 0 is the bench itself, with its ended children;
     * then {@code servers} in order.
     */
    static Sample sample(List<Long> servers) {
        long[] ours = new long[servers.size() + 1];
        ours[0] = processAndEndedChildrenCpuNanos(ProcessHandle.current().pid());
        for (int i = 0; i < servers.size(); i++) {
            ours[i + 1] = processCpuNanos(servers.get(i));
        }
        return new Sample(System.nanoTime(), machineTicks(), ours);
    }

    /** CPU counters at one instant. */
    record Sample(long at, long[] machine, long[] ours) {
        /** CPU of our process {@code index} between {@code before} and this sample. */
        long cpuNanosSince(Sample before, int index) {
            return ours[index] - before.ours[index];
        }

        /**
         * The share of the whole machine's time (all cores) between the samples that went to
         * processes other than ours: other work on a shared host.
         */
        double foreignShare(Sample before) {
            long totalTicks = machine[1] - before.machine[1];
            if (totalTicks <= 0) {
                return 0;
            }
            long busyNanos = (machine[0] - before.machine[0]) * NANOS_PER_TICK;
            long oursNanos = 0;
            for (int i = 0; i < ours.length; i++) {
                oursNanos += ours[i] - before.ours[i];
            }
            return Math.max(0, (double) (busyNanos - oursNanos) / (totalTicks * NANOS_PER_TICK));
        }
    }
}
