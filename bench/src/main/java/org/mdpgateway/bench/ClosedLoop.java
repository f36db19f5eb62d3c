package org.mdpgateway.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntFunction;

/**
 * A closed-loop load generator on the bench's own threads: each thread does one operation, waits for
 * it, and does the next, for the length of a window. Used where the peers are JeroMQ sockets; HTTP
 * load comes from {@link Wrk}.
 */
final class ClosedLoop {
    /** One thread's operation: true when it got the right answer. */
    interface Operation {
        boolean once() throws Exception;
    }

    record Result(long ops, long errors, long nanos, double[] percentilesUs) {}

    private ClosedLoop() {}

    static Result run(int threads, Duration window, IntFunction<Operation> operationOfThread) {
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        long[] ops = new long[threads];
        long[] errors = new long[threads];
        List<Latencies> latencies = new ArrayList<>();
        List<Thread> running = new ArrayList<>();
        long[] window0 = new long[1];
        for (int t = 0; t < threads; t++) {
            int index = t;
            Latencies recorder = new Latencies();
            latencies.add(recorder);
            Operation operation = operationOfThread.apply(t);
            Thread thread = new Thread(() -> {
                ready.countDown();
                try {
                    go.await();
                    long end = window0[0] + window.toNanos();
                    while (true) {
                        long start = System.nanoTime();
                        boolean right = operation.once();
                        long done = System.nanoTime();
                        if (done - end > 0) {
                            break;
                        }
                        if (right) {
                            ops[index]++;
                            recorder.record(done - start);
                        } else {
                            errors[index]++;
                        }
                    }
                } catch (Exception e) {
                    errors[index]++;
                    System.err.println("generator thread failed: " + e);
                }
            }, "generator-" + t);
            running.add(thread);
            thread.start();
        }
        try {
            ready.await();
            window0[0] = System.nanoTime();
            go.countDown();
            for (Thread thread : running) {
                thread.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        long total = 0;
        long failed = 0;
        for (int t = 0; t < threads; t++) {
            total += ops[t];
            failed += errors[t];
        }
        return new Result(total, failed, window.toNanos(), Latencies.percentilesUs(latencies));
    }
}
