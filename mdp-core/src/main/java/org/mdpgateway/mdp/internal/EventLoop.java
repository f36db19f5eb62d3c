package org.mdpgateway.mdp.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;
import zmq.Msg;
import zmq.ZError;

/**
 * Internal to this project's loops that watch many sockets ({@link MdpClient}, {@link MdpWorker}); not a
 * supported API. What a thread that owns ZeroMQ sockets needs to sleep until one of them, or another
 * thread, has something for it.
 *
 * <p>Owned by one loop thread: everything here belongs to it except {@link #post} and {@link #wake},
 * which any thread may call. Other threads hand the loop work through a lock-free queue; the loop
 * sleeps in one {@link Selector} that keeps every socket registered for as long as it is open (no
 * registration per poll), and a post rings the selector's wake-up only when the loop is asleep in it,
 * so a busy loop costs posters nothing but the queue.
 *
 * <p>A ZeroMQ socket's file descriptor signals commands for the socket, not messages: it is readable
 * when something changed, and any operation on the socket may consume that signal. So the loop
 * (a) asks the socket itself ({@code ZMQ_EVENTS}) whether it is ready whenever its descriptor fires,
 * and (b) asks again before sleeping for every socket that was ready or used since the last poll. An
 * owner that finds a socket ready reads from it until it has no more (or leaves the rest for the
 * next turn: the check before sleeping sees what is left).
 *
 * <p>A loop with one socket to watch can also sleep inside that socket's own blocking receive
 * ({@link #receiveOrWake}), woken from other threads through JeroMQ's cancellation of that receive.
 * That is how a raw JeroMQ peer waits, and it is much cheaper for a socket that answers each message
 * it gets: see {@link #receiveOrWake} for why.
 */
public final class EventLoop<T> implements AutoCloseable {
    /** How long the loop naps after a descriptor fired with nothing for it; see {@link #emptyFire}. */
    static final long NAP_NANOS = 20_000;

    private final Selector selector;
    private final Queue<T> queue = new ConcurrentLinkedQueue<>();
    /** True while the loop is in, or about to enter, a blocking select. */
    private final AtomicBoolean sleeping = new AtomicBoolean();
    /** Set by {@link #wake}: the loop must not sleep before it has read its clock again. */
    private volatile boolean wakeRequested;
    /** The socket the loop sleeps in a receive on, while it does; else null (it sleeps in the selector). */
    private volatile ZMQ.Socket receivingOn;
    /** Set by a poster to end the loop's blocking receive; see {@link #receiveOrWake}. */
    private final AtomicBoolean receiveCanceled = new AtomicBoolean();

    // Owned by the loop thread.
    private final Consumer<SelectionKey> onSelected = this::onSelected;
    private Registration[] ready = new Registration[8];
    private int readyCount;
    /** Registrations to ask before the next sleep. */
    private Registration[] toCheck = new Registration[8];
    private int toCheckCount;
    /** The other of two lists, swapped each poll: the one being checked. */
    private Registration[] checkedLast = new Registration[8];
    /** Registrations left out of the select for now; see {@link #emptyFire}. */
    private Registration[] muted = new Registration[4];
    private int mutedCount;
    private long round;

    public EventLoop() {
        try {
            selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a selector for the loop", e);
        }
    }

    // ---- any thread ------------------------------------------------------------------------------

    /** Queues {@code item} for the loop thread and wakes it if it sleeps. */
    public void post(T item) {
        queue.add(item);
        wakeIfSleeping();
    }

    /** Wakes the loop thread with nothing queued, so it re-reads its clock. */
    public void wake() {
        wakeRequested = true;
        wakeIfSleeping();
    }

    private void wakeIfSleeping() {
        // The loop sets sleeping and then looks at the queue; a poster adds and then looks at
        // sleeping. One of the two sees the other, so no item is left unread while the loop sleeps.
        if (sleeping.get() && sleeping.compareAndSet(true, false)) {
            ZMQ.Socket receiving = receivingOn;
            if (receiving == null) {
                selector.wakeup(); // not an interruptible channel: safe from an interrupted thread
                return;
            }
            try {
                // JeroMQ's cancellation: a flag and a command to the socket's own mailbox, which
                // ends its blocking receive; made to be called from another thread. It writes to
                // JeroMQ's signal pipe, which JeroMQ keeps non-blocking: an interrupt of this thread
                // does not close it (Java closes only channels interrupted in a blocking operation).
                receiving.base().cancel(receiveCanceled);
            } catch (RuntimeException e) {
                // The loop left that receive and closed the socket meanwhile: it is awake, and
                // looks at the queue before it sleeps again. (A command for a socket already
                // reaped may reach one that took its slot: a spurious wake-up, no more.)
            }
        }
    }

    // ---- the loop thread -------------------------------------------------------------------------

    /** The next queued item, or null. */
    public T next() {
        return queue.poll();
    }

    /**
     * Watches {@code socket} from now until {@link Registration#cancel()}; cancel before closing the
     * socket.
     *
     * @param events {@link ZMQ.Poller#POLLIN}, {@link ZMQ.Poller#POLLOUT} or both
     */
    public Registration register(ZMQ.Socket socket, int events, Object attachment) {
        Registration r = new Registration(this, socket, events, attachment);
        try {
            r.key = socket.getFD().register(selector, SelectionKey.OP_READ, r);
        } catch (ClosedChannelException e) {
            throw new IllegalStateException("the socket is closed", e);
        }
        check(r); // it may have become ready before it was registered
        return r;
    }

    /**
     * Waits until a registered socket is ready, an item is posted, {@link #wake} is called, or the
     * timeout passes; then {@link #ready(int)} gives the sockets found ready.
     *
     * @param timeoutMillis 0 to only look, negative to wait without a timeout
     * @return how many sockets are ready
     */
    public int poll(long timeoutMillis) {
        int mutedBefore = mutedCount;
        round++;
        for (int i = 0; i < readyCount; i++) {
            ready[i] = null;
        }
        readyCount = 0;
        // Those found ready queue themselves again, for the check before the next poll's sleep.
        Registration[] checking = toCheck;
        int n = toCheckCount;
        toCheck = checkedLast;
        toCheckCount = 0;
        checkedLast = checking;
        for (int i = 0; i < n; i++) {
            Registration r = checking[i];
            checking[i] = null;
            r.checkQueued = false;
            if (r.key != null) {
                probe(r);
            }
        }
        try {
            if (timeoutMillis == 0 || readyCount > 0) {
                selector.selectNow(onSelected);
            } else {
                sleeping.set(true);
                if (!queue.isEmpty() || wakeRequested) {
                    sleeping.set(false);
                    selector.selectNow(onSelected);
                } else if (mutedBefore > 0) {
                    napWhileMuted();
                } else {
                    selector.select(onSelected, Math.max(0, timeoutMillis));
                    sleeping.set(false);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the loop's selector failed", e);
        }
        wakeRequested = false;
        if (mutedBefore > 0) {
            unmute(mutedBefore);
        }
        return readyCount;
    }

    /**
     * Sleeps as {@link #poll} does, but inside a blocking receive on the one socket the loop has to
     * watch, until a message arrives on it, an item is posted, {@link #wake} is called, or the timeout
     * passes; reads that message whole.
     *
     * <p>Why: JeroMQ's I/O thread signals a socket through a pipe, and writes its signal byte before
     * it counts it. A loop that sleeps in a selector on that pipe and then asks the socket for its
     * events ({@code ZMQ_EVENTS}, which only takes signals already counted) loses that race whenever
     * the writer is preempted in between, and on a loaded machine it is: the woken loop runs on the
     * writer's core. The same race on the I/O thread's own pipe then spins the I/O thread until the
     * loop thread, preempted in its turn, counts the byte of its reply: on two cores a worker that
     * answered each request from a selector loop served about half of what a raw JeroMQ worker did.
     * A blocking receive takes the signal byte as soon as the pipe has it, counted or not.
     *
     * @param r the registration of the socket; it is asked again before the loop next sleeps in
     *          {@link #poll}
     * @param timeoutMillis at least 1
     * @return the frames of one message, or null if none came (woken, timed out or interrupted)
     * @throws ZMQException if the socket fails otherwise (its context was terminated, say)
     */
    public List<byte[]> receiveOrWake(Registration r, int timeoutMillis) {
        ZMQ.Socket socket = r.socket;
        if (r.receiveTimeout != timeoutMillis) {
            socket.setReceiveTimeOut(timeoutMillis);
            r.receiveTimeout = timeoutMillis;
        }
        // Before it says it sleeps: a poster cancels only after it has seen it sleeping.
        receiveCanceled.set(false);
        receivingOn = socket;
        sleeping.set(true);
        if (!queue.isEmpty() || wakeRequested) {
            sleeping.set(false);
            receivingOn = null;
            wakeRequested = false;
            return null;
        }
        Msg first;
        try {
            first = socket.base().recv(0, receiveCanceled);
        } finally {
            sleeping.set(false);
            receivingOn = null;
            wakeRequested = false;
            check(r); // it may have more, and the receive may have taken its descriptor's signal
        }
        if (first == null) {
            int errno = socket.base().errno();
            if (errno == ZError.EAGAIN || errno == ZError.ECANCELED || errno == ZError.EINTR) {
                return null;
            }
            throw new ZMQException(errno);
        }
        List<byte[]> frames = new ArrayList<>(6);
        frames.add(first.data());
        while (socket.hasReceiveMore()) {
            frames.add(socket.recv(0));
        }
        return frames;
    }

    /** The {@code index}th socket found ready by the last {@link #poll}. */
    public Registration ready(int index) {
        return ready[index];
    }

    private void onSelected(SelectionKey key) {
        Registration r = (Registration) key.attachment();
        if (r.readyRound != round) {
            probe(r); // reads the socket's commands, which also silences its descriptor
            if (r.readyRound != round) {
                emptyFire(r);
            } else {
                r.emptyFires = 0;
            }
        }
    }

    /**
     * The descriptor fired and the socket had nothing for us. JeroMQ's sender queues its command,
     * writes its signal byte and only then counts it; until it counts it the socket ignores the byte,
     * which keeps the descriptor readable. The write wakes us, often on the sender's own core before
     * it has counted, so spinning on the descriptor would take the very CPU the sender needs. Most
     * empty fires are harmless, though: a byte already counted, which the probe consumed. So a first
     * empty fire only yields the core; a second in a row leaves the descriptor out of the next select,
     * and if nothing else is ready the loop naps for {@link #NAP_NANOS} while the sender finishes.
     * (Muting for 1 ms, the finest select timeout, stalled about one request in five of a sequential
     * worker; napping on every empty fire cost a loaded worker more than it saved.)
     */
    private void emptyFire(Registration r) {
        if (++r.emptyFires == 1) {
            // Usually a signal byte already counted, which this probe consumed; if not, its sender
            // may be waiting for this very core.
            Thread.yield();
            return;
        }
        if (!r.muted) {
            r.muted = true;
            r.key.interestOps(0);
            if (mutedCount == muted.length) {
                muted = Arrays.copyOf(muted, mutedCount * 2);
            }
            muted[mutedCount++] = r;
        }
    }

    /** A select without the muted descriptors; a short nap when it finds nothing. */
    private void napWhileMuted() throws IOException {
        selector.selectNow(onSelected);
        sleeping.set(false); // what is posted during the nap is read right after it
        if (readyCount == 0) {
            LockSupport.parkNanos(NAP_NANOS);
        }
    }

    /**
     * Watches the first {@code n} muted descriptors again, after one select without them, and has
     * their sockets asked before the next sleep: their senders may have counted by now.
     */
    private void unmute(int n) {
        for (int i = 0; i < n; i++) {
            Registration r = muted[i];
            r.muted = false;
            if (r.key != null) {
                r.key.interestOps(SelectionKey.OP_READ);
                check(r);
            }
        }
        System.arraycopy(muted, n, muted, 0, mutedCount - n);
        Arrays.fill(muted, mutedCount - n, mutedCount, null);
        mutedCount -= n;
    }

    /** Asks the socket what it can do now; records it as ready if that is something it wants. */
    private void probe(Registration r) {
        int events = r.socket.getEvents();
        // -1: the context was terminated; report it so the owner's next operation tells it so.
        r.readyEvents = events < 0 ? r.events : events & r.events;
        if (r.readyEvents != 0 && r.readyRound != round) {
            r.readyRound = round;
            if (readyCount == ready.length) {
                ready = Arrays.copyOf(ready, readyCount * 2);
            }
            ready[readyCount++] = r;
            check(r); // the owner will use it: look again before the next sleep
        }
    }

    private void check(Registration r) {
        if (r.checkQueued) {
            return;
        }
        r.checkQueued = true;
        if (toCheckCount == toCheck.length) {
            toCheck = Arrays.copyOf(toCheck, toCheckCount * 2);
        }
        toCheck[toCheckCount++] = r;
    }

    /** Closes the selector; the sockets stay open and belong to their owner. */
    @Override
    public void close() {
        try {
            selector.close();
        } catch (IOException e) {
            // Nothing to recover: it is being discarded.
        }
    }

    /** A socket watched by the loop; belongs to the loop thread. */
    public static final class Registration {
        private final EventLoop<?> loop;
        private final ZMQ.Socket socket;
        private final Object attachment;
        private int events;
        private int readyEvents;
        private long readyRound = -1;
        private boolean checkQueued;
        private boolean muted;
        private int emptyFires;
        /** The receive timeout last set on the socket by {@link #receiveOrWake}; -1 is JeroMQ's default. */
        private int receiveTimeout = -1;
        private SelectionKey key;

        private Registration(EventLoop<?> loop, ZMQ.Socket socket, int events, Object attachment) {
            this.loop = loop;
            this.socket = socket;
            this.events = events;
            this.attachment = attachment;
        }

        public ZMQ.Socket socket() {
            return socket;
        }

        public Object attachment() {
            return attachment;
        }

        /** Changes what the loop waits for on this socket. */
        public void events(int events) {
            if ((events & ~this.events) != 0) {
                loop.check(this); // it may have that already
            }
            this.events = events;
        }

        /** Tells the loop the socket was used (sent on), so it asks the socket again before sleeping. */
        public void touched() {
            loop.check(this);
        }

        /** Whether the last poll found a message to read. */
        public boolean readable() {
            return readyRound == loop.round && (readyEvents & ZMQ.Poller.POLLIN) != 0;
        }

        /** Whether the last poll found room to send. */
        public boolean writable() {
            return readyRound == loop.round && (readyEvents & ZMQ.Poller.POLLOUT) != 0;
        }

        /** Stops watching the socket; call it before the socket is closed. */
        public void cancel() {
            if (key != null) {
                key.cancel();
                key = null;
            }
        }
    }
}
