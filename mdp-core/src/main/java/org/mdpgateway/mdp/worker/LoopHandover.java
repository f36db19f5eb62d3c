package org.mdpgateway.mdp.worker;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets an {@link MdpWorker} run a handler on its I/O thread and, if the handler runs long, hand the
 * I/O thread's job (the sockets, the heartbeats) to a new thread, so that the worker keeps its 18/MDP
 * duty to heartbeat at regular intervals however long a handler takes.
 *
 * <p>Why: handing every request to a handler thread and its FINAL back costs two wake-ups per
 * request, which a raw worker does not pay. Most handlers are short; one that takes longer than
 * {@link #HANDOVER_AFTER_NANOS} loses the I/O thread's job to a new thread, and its worker then runs
 * handlers on its handler thread until one of them is short again.
 *
 * <p>Who owns what: the worker's loop state belongs to whichever thread holds the I/O role. The
 * {@link #word} decides: it holds a run's number and whether that run is {@code INLINE} (its thread
 * holds the role and runs the handler), {@code SENDING} (that thread, inside the handler, is
 * sending a PARTIAL on the loop's sockets: not to be handed over now), {@code HANDING} (the
 * {@link Watchdog} is starting a new thread for the role; the handler's thread, if it returns
 * meanwhile, waits to learn whether that worked) or {@code HANDED_OVER} (the new thread holds the
 * role). Every change of owner goes through a compare-and-set on it, which is also the memory
 * barrier ZeroMQ asks for when a socket moves to another thread.
 */
final class LoopHandover {
    /** A handler that runs this long loses the I/O thread's job; real time, not the worker's ticker. */
    static final long HANDOVER_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private static final Logger log = LoggerFactory.getLogger(LoopHandover.class);

    private static final long IDLE = 0;
    private static final long INLINE = 1;
    private static final long SENDING = 2;
    private static final long HANDING = 3;
    private static final long HANDED_OVER = 4;
    private static final long STATE_MASK = 7;
    private static final int STATE_BITS = 3;

    /** A run's number shifted left by {@link #STATE_BITS}, or'ed with its state. */
    private final AtomicLong word = new AtomicLong();
    private final Runnable loop;
    private final String loopName;
    private volatile long inlineSince;
    private volatile Thread inlineThread;
    /** The thread whose long handler lost the I/O role last; interrupted by {@link #close}. */
    private volatile Thread slowHandler;
    /** The thread that holds the I/O role, or is given it. */
    private volatile Thread owner;

    // Owned by the thread holding the I/O role.
    private long runs;

    /**
     * @param loop what a thread that takes the I/O role runs
     * @param loopName the name of the I/O thread
     */
    LoopHandover(Runnable loop, String loopName) {
        this.loop = loop;
        this.loopName = loopName;
    }

    /** Starts the first I/O thread and has the watchdog look after this worker. */
    void start() {
        Watchdog.INSTANCE.watch(this);
        Thread first = newLoopThread();
        owner = first;
        first.start();
    }

    /** Whether the calling thread holds the I/O role and runs no handler inline. */
    boolean onLoopOutsideHandler() {
        Thread me = Thread.currentThread();
        return owner == me && !(inlineThread == me && (word.get() & STATE_MASK) != IDLE);
    }

    /** Whether the calling thread holds the I/O role (or ran it until it ended). */
    boolean ownsLoop() {
        return owner == Thread.currentThread();
    }

    /** Stops watching; a handler running inline is interrupted. */
    void close() {
        Watchdog.INSTANCE.forget(this);
        Thread t = inlineThread;
        if (t != null && (word.get() & STATE_MASK) != IDLE) {
            t.interrupt();
        }
        Thread slow = slowHandler;
        if (slow != null) {
            slow.interrupt(); // harmless if its handler has ended: the thread has, or is about to
        }
    }

    // ---- the thread holding the I/O role ------------------------------------------------------

    /** About to run a handler on this thread; returns the run's number for {@link #leave}. */
    long enter() {
        long run = ++runs << STATE_BITS;
        inlineThread = Thread.currentThread();
        inlineSince = System.nanoTime();
        word.set(run | INLINE);
        Watchdog.INSTANCE.wantTicks();
        return run;
    }

    /**
     * The handler of {@code run} returned: true if this thread still holds the I/O role; false if it
     * was handed over, and this thread must leave the loop's state alone from now on.
     */
    boolean leave(long run) {
        while (true) {
            if (word.compareAndSet(run | INLINE, run | IDLE)) {
                inlineThread = null;
                return true;
            }
            if (word.get() != (run | HANDING)) {
                // Not the owner: inlineThread may already be the new owner's own.
                return false;
            }
            Thread.onSpinWait(); // the watchdog is starting a thread; it says soon whether it could
        }
    }

    // ---- the thread running a handler inline ---------------------------------------------------

    /**
     * Runs {@code send} on the loop's state if the calling thread runs a handler inline and still
     * holds the I/O role; false, having run nothing, otherwise (the caller then posts to the loop).
     */
    boolean tryOnLoop(Runnable send) {
        // An interrupted thread's send would fail in JeroMQ (EINTR) and take the interrupt with it.
        if (Thread.currentThread() != inlineThread || Thread.currentThread().isInterrupted()) {
            return false;
        }
        long w = word.get();
        if ((w & STATE_MASK) != INLINE || !word.compareAndSet(w, (w & ~STATE_MASK) | SENDING)) {
            return false;
        }
        try {
            send.run();
        } finally {
            word.set(w);
        }
        return true;
    }

    // ---- the watchdog thread -------------------------------------------------------------------

    /** True while a handler runs inline: the watchdog keeps ticking. */
    private boolean check(long now) {
        long w = word.get();
        long state = w & STATE_MASK;
        if (state == IDLE || state == HANDED_OVER) {
            return false;
        }
        if (state == INLINE && now - inlineSince >= HANDOVER_AFTER_NANOS
                && word.compareAndSet(w, (w & ~STATE_MASK) | HANDING)) {
            Thread slow = inlineThread;
            Thread next = newLoopThread();
            try {
                owner = next;
                next.start();
            } catch (Throwable e) { // out of native threads, say: the handler's thread keeps the role
                owner = slow;
                word.set(w);
                log.warn("cannot start a thread to take over from a long handler of {}; it keeps the I/O role",
                        loopName, e);
                return true;
            }
            if (slow != null) {
                slow.setName(loopName + "-slow-handler");
                slowHandler = slow;
            }
            word.set((w & ~STATE_MASK) | HANDED_OVER);
            return false;
        }
        return true;
    }

    private Thread newLoopThread() {
        Thread t = new Thread(loop, loopName);
        t.setDaemon(true);
        return t;
    }

    /**
     * One daemon thread for every worker in the process: it looks at the workers running a handler
     * inline every {@link #TICK_NANOS} while any does, and sleeps without a timeout when none has for
     * a tick, so an idle process pays nothing and a busy one a wake-up per tick, not per request.
     */
    private static final class Watchdog implements Runnable {
        static final Watchdog INSTANCE = new Watchdog();
        static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

        private final Queue<LoopHandover> watched = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean dozing = new AtomicBoolean();
        private volatile boolean ticked;
        private final Thread thread;

        private Watchdog() {
            thread = new Thread(this, "mdp-worker-watchdog");
            thread.setDaemon(true);
            thread.start();
        }

        void watch(LoopHandover h) {
            watched.add(h);
        }

        void forget(LoopHandover h) {
            watched.remove(h);
        }

        /** An inline run began: make sure the watchdog ticks (one unpark after a quiet spell). */
        void wantTicks() {
            ticked = true;
            // The watchdog sets dozing, then looks at ticked; we set ticked, then look at dozing.
            if (dozing.get() && dozing.compareAndSet(true, false)) {
                LockSupport.unpark(thread);
            }
        }

        @Override
        public void run() {
            while (true) {
                boolean inlineRuns = false;
                long now = System.nanoTime();
                for (LoopHandover h : watched) {
                    try {
                        inlineRuns |= h.check(now);
                    } catch (RuntimeException | Error e) { // one worker's trouble must not end the watchdog
                        log.error("worker watchdog failed on {}", h.loopName, e);
                    }
                }
                if (inlineRuns || ticked) {
                    // Whether a run begins during this tick: if none does and none runs after it, doze.
                    // (Cleared before the tick, not after it: a run that began and ended during the
                    // tick must keep the watchdog ticking, or every request of a steady load would
                    // pay an unpark and the watchdog a wake-up.)
                    ticked = false;
                    LockSupport.parkNanos(this, TICK_NANOS);
                } else {
                    dozing.set(true);
                    if (!ticked) {
                        LockSupport.park(this);
                    }
                    dozing.set(false);
                }
            }
        }
    }
}
