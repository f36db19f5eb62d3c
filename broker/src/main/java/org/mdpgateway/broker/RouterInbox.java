package org.mdpgateway.broker;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * How other threads hand work to the broker loop, which sleeps in its ROUTER socket's own blocking
 * receive: a lock-free queue, plus an in-process peer of that socket (the doorbell) that sends it an
 * empty message when, and only when, the loop is asleep.
 *
 * <p>Why not a poll over the socket and a pipe: JeroMQ's poll re-registers its channels on every
 * call and looks twice (a select without waiting, then one that waits), and a socket's descriptor
 * can be readable a moment before the socket will admit it has anything (its sender writes the
 * signal byte and counts it afterwards), which a poller spins on. A blocking receive on the socket
 * itself has neither cost; with one socket to watch, the loop needs nothing else.
 *
 * <p>{@link #post} and {@link #wake} may be called from any thread; everything else belongs to the
 * loop thread.
 */
final class RouterInbox<T> {
    private static final byte[] DOORBELL_ID = "mdp-broker-doorbell".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RING = {};

    private final Queue<T> queue = new ConcurrentLinkedQueue<>();
    /** True while the loop is in, or about to enter, its blocking receive. */
    private final AtomicBoolean sleeping = new AtomicBoolean();
    /** Guards the doorbell socket, which posting threads share. */
    private final Object ringLock = new Object();
    private ZMQ.Socket doorbell;
    private boolean closed;

    /**
     * Connects the doorbell to {@code router} over {@code inproc}; call it on the loop thread before
     * the router is bound anywhere else, so no network peer can take the doorbell's routing id.
     */
    void attach(ZContext context, ZMQ.Socket router) {
        String endpoint = "inproc://mdp-broker-doorbell-" + System.identityHashCode(this) + "-" + System.nanoTime();
        router.bind(endpoint);
        ZMQ.Socket bell = context.createSocket(SocketType.DEALER);
        bell.setIdentity(DOORBELL_ID);
        bell.setLinger(0);
        bell.connect(endpoint);
        synchronized (ringLock) {
            doorbell = bell;
        }
    }

    /** Queues {@code item} for the loop and wakes it if it sleeps. */
    void post(T item) {
        queue.add(item);
        ringIfSleeping();
    }

    private void ringIfSleeping() {
        // The loop sets sleeping and then looks at the queue; a poster adds and then looks at
        // sleeping. One of the two sees the other, so nothing waits while the loop sleeps.
        if (sleeping.get() && sleeping.compareAndSet(true, false)) {
            // JeroMQ refuses to send from an interrupted thread; a caller's interrupt is its own
            // business and must neither lose the ring nor be lost.
            boolean interrupted = Thread.interrupted();
            try {
                synchronized (ringLock) {
                    if (!closed && doorbell != null) {
                        doorbell.send(RING, ZMQ.DONTWAIT);
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The next queued item, or null. */
    T next() {
        return queue.poll();
    }

    /**
     * Called by the loop just before its blocking receive.
     *
     * @return false when something was posted meanwhile and the loop must not sleep
     */
    boolean goingToSleep() {
        sleeping.set(true);
        if (!queue.isEmpty()) {
            sleeping.set(false);
            return false;
        }
        return true;
    }

    /** Called by the loop when its receive returns. */
    void awake() {
        sleeping.set(false);
    }

    /** Whether a message with this routing id is the doorbell's, which carries nothing. */
    static boolean isDoorbell(byte[] routingId) {
        return routingId.length == DOORBELL_ID.length && Arrays.equals(routingId, DOORBELL_ID);
    }

    /** Closes the doorbell; posts after this are queued but wake nothing. */
    void close() {
        synchronized (ringLock) {
            closed = true;
            if (doorbell != null) {
                doorbell.close();
                doorbell = null;
            }
        }
    }
}
