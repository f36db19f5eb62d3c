package org.mdpgateway.mdp.worker;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * The one thread that runs an {@link MdpWorker}'s handler. The worker's I/O thread hands it each
 * request; a request is handed over with a queue and a wake-up only when this thread is parked, so
 * the hand-over costs a lock-free add and, at most, one unpark; an executor's blocking queue would
 * add a lock and a condition signal to every request.
 *
 * <p>Owned by its own thread; {@link #execute} and {@link #shutdownNow} may be called from any.
 */
final class HandlerThread {
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean parked;
    private volatile boolean stopped;

    HandlerThread(String name) {
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    void execute(Runnable task) {
        tasks.add(task);
        // The handler sets parked and then looks at the queue; we add and then look at parked.
        if (parked) {
            LockSupport.unpark(thread);
        }
    }

    /** Stops the thread, interrupting a task that runs; queued tasks are dropped. */
    void shutdownNow() {
        stopped = true;
        thread.interrupt();
    }

    private void run() {
        while (!stopped) {
            Runnable task = tasks.poll();
            if (task != null) {
                task.run();
                Thread.interrupted(); // an interrupt meant for a task that has ended must not reach the next
                continue;
            }
            parked = true;
            if (tasks.isEmpty() && !stopped) {
                LockSupport.park(this);
            }
            parked = false;
        }
    }
}
