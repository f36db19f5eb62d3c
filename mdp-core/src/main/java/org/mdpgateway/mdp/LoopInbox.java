package org.mdpgateway.mdp;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.SelectableChannel;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * How other threads hand work to a thread that owns ZeroMQ sockets and sleeps in a poll: a lock-free
 * queue plus a doorbell channel the poll watches. A post rings the doorbell only when it is not
 * already ringing, so a busy loop gets no extra wake-ups.
 *
 * <p>{@link #post} is safe from any thread; everything else belongs to the loop thread.
 */
public final class LoopInbox<T> implements AutoCloseable {
    private final Queue<T> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean rung = new AtomicBoolean();
    private final Pipe pipe;
    private final ByteBuffer drain = ByteBuffer.allocate(64);

    public LoopInbox() {
        try {
            pipe = Pipe.open();
            pipe.source().configureBlocking(false);
            pipe.sink().configureBlocking(false); // a blocking channel is closed by a post from an interrupted thread
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the loop's doorbell pipe", e);
        }
    }

    /** Queues {@code item} for the loop thread and wakes it. */
    public void post(T item) {
        queue.add(item);
        if (rung.compareAndSet(false, true)) {
            ringDoorbell();
        }
    }

    /** Wakes the loop thread with nothing queued, so it re-reads its clock. */
    public void wake() {
        if (rung.compareAndSet(false, true)) {
            ringDoorbell();
        }
    }

    private void ringDoorbell() {
        try {
            pipe.sink().write(ByteBuffer.allocate(1));
        } catch (IOException e) {
            // The pipe is closed: the loop has stopped and will not read the queue again.
        }
    }

    /** The channel to register for reading in the loop's poll. */
    public SelectableChannel doorbell() {
        return pipe.source();
    }

    /** The next queued item, or null. The loop drains the queue each time it wakes. */
    public T next() {
        return queue.poll();
    }

    /**
     * Silences the doorbell. Call it whenever the poll finds the doorbell readable, before reading
     * the queue with {@link #next}.
     */
    public void silence() {
        try {
            while (true) {
                drain.clear();
                if (pipe.source().read(drain) <= 0) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // Cleared before the queue is read, so a post that sees it set has its item read below.
        rung.set(false);
    }

    @Override
    public void close() {
        try {
            pipe.sink().close();
            pipe.source().close();
        } catch (IOException e) {
            // Nothing to recover: both ends are being discarded.
        }
    }
}
