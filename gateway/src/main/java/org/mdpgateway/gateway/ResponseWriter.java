package org.mdpgateway.gateway;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.mdpgateway.mdp.Body;

/**
 * The non-blocking writer of one response, whatever its format: events are queued from any thread
 * and drained on a writer thread, which hands the bytes to the response while the container says
 * the client can take more, and otherwise returns; the response's write listener wakes it again.
 * So no thread ever waits for a client. It also keeps the budget of parts and body bytes handed
 * over and not yet taken by the client.
 *
 * <p>What the events mean is the {@link Events}' business; it answers them by filling this sink.
 */
final class ResponseWriter implements ReplySink {
    /** The reply's side, called on the writer thread, one call at a time. */
    interface Events {
        /** A reply event to answer, while the response has not ended. */
        void handle(StreamEvent event) throws IOException;

        /** The client went away, or writing failed; nothing more is written. */
        void clientGone(Throwable cause);
    }

    private final HttpServletRequest request;
    private final HttpServletResponse response;
    private final Executor writer;
    private final int maxBufferedParts;
    private final long maxBufferedBytes;
    private final Events events;

    /** Completes when the response is finished, one way or another. */
    final CompletableFuture<Void> done = new CompletableFuture<>();

    private final Queue<StreamEvent> queue = new ConcurrentLinkedQueue<>();
    /** Parts and their body bytes handed over by the broker and not yet taken by the client. */
    private final AtomicInteger bufferedParts = new AtomicInteger();
    private final AtomicLong bufferedBytes = new AtomicLong();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    /**
     * Set while a writer found the response not ready: only then does a write-possible callback
     * have work to resume. The container also calls back once when the listener is set; that
     * call finds nothing waiting and costs no wake-up.
     */
    private volatile boolean waitingForWritable;

    // Writer thread only (one drain runs at a time).
    private boolean committed;
    /** The reply has ended: later events are dropped. */
    private boolean ended;
    /** Ended and waiting for {@link #pending} to drain before {@link #done} completes. */
    private boolean closing;
    /** The client is gone or the stream was cut off: nothing more is written. */
    private boolean gone;
    private boolean unflushed;
    private ServletOutputStream out;
    /** Bytes and frames waiting for the client to take them, in order; a {@link StreamEvent.Part} marks its end. */
    private final ArrayDeque<Object> pending = new ArrayDeque<>();

    ResponseWriter(HttpServletRequest request, HttpServletResponse response, Executor writer, int maxBufferedParts,
            long maxBufferedBytes, Events events) {
        this.request = request;
        this.response = response;
        this.writer = writer;
        this.maxBufferedParts = maxBufferedParts;
        this.maxBufferedBytes = maxBufferedBytes;
        this.events = events;
    }

    /**
     * Puts the response in non-blocking mode. Call it on the request's own thread once the request
     * is asynchronous, before any event can arrive: while the container still handles the request,
     * it delivers the listener's first callback on this same thread when the handler returns,
     * instead of waking another thread for it.
     */
    void start() {
        try {
            out = response.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.setWriteListener(new WriteListener() {
            @Override
            public void onWritePossible() {
                if (waitingForWritable) {
                    waitingForWritable = false;
                    offer(StreamEvent.WRITABLE);
                }
            }

            @Override
            public void onError(Throwable t) {
                offer(new StreamEvent.ClientError(t));
            }
        });
    }

    // ---- from any thread ----------------------------------------------------------------------

    /**
     * Counts a part in the budget. One part alone is always taken: it is in memory already,
     * bounded by the broker's largest message.
     *
     * @return null, or when {@code mayRefuse} and the part goes past a budget, which one
     */
    StreamEvent.Overflow reserve(StreamEvent.Part part, boolean mayRefuse) {
        int parts = bufferedParts.incrementAndGet();
        long bytes = bufferedBytes.addAndGet(part.bytes());
        if (mayRefuse && (parts > maxBufferedParts || (bytes > maxBufferedBytes && parts > 1))) {
            return new StreamEvent.Overflow(parts > maxBufferedParts);
        }
        return null;
    }

    void offer(StreamEvent event) {
        queue.add(event);
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                writer.execute(this::drain);
            } catch (RejectedExecutionException e) {
                // The writers are shut down (the gateway is stopping): nothing will write this response
                // again, so it ends here rather than being left to hang. Never thrown at the offerer,
                // which may be the broker's thread.
                drainScheduled.set(false);
                done.complete(null);
            }
        }
    }

    // ---- on a writer thread -------------------------------------------------------------------

    private void drain() {
        do {
            try {
                drainQueue();
            } finally {
                // Even if answering an event threw past every guard, the next offer schedules a drain.
                drainScheduled.set(false);
            }
        } while (!queue.isEmpty() && drainScheduled.compareAndSet(false, true));
    }

    private void drainQueue() {
        StreamEvent event;
        while ((event = queue.poll()) != null) {
            if (gone) {
                continue;
            }
            try {
                if (event == StreamEvent.WRITABLE) {
                    pump();
                } else if (event instanceof StreamEvent.ClientError error) {
                    clientGone(error.cause());
                } else if (!ended) {
                    events.handle(event);
                    if (!gone) { // an abort while handling leaves nothing to write
                        pump();
                    }
                } else if (event instanceof StreamEvent.Part part) {
                    release(part); // after the end: dropped
                }
            } catch (IOException | RuntimeException e) {
                clientGone(e);
            }
        }
    }

    @Override
    public boolean committed() {
        return committed;
    }

    @Override
    public void commit(String contentType, boolean live) {
        if (committed) {
            return;
        }
        committed = true;
        response.setStatus(200);
        response.setContentType(contentType);
        if (live) {
            response.setHeader("Cache-Control", "no-cache");
            response.setHeader("X-Accel-Buffering", "no");
        }
    }

    @Override
    public void contentLength(long bytes) {
        response.setContentLengthLong(bytes);
    }

    @Override
    public void write(byte[] bytes) {
        pending.add(bytes);
    }

    @Override
    public void writeFrame(Body body, int index) {
        pending.add(new FrameRef(body, index));
    }

    /**
     * True while bytes written are waiting for the client to take them: queued here, or handed to
     * the container and not yet sent.
     */
    boolean isBehind() {
        return !pending.isEmpty() || waitingForWritable;
    }

    /** The client has taken what was written before, {@code part} included. */
    void endOfPart(StreamEvent.Part part) {
        pending.add(part);
    }

    /** The client has taken {@code part}, or it will never be written. */
    void release(StreamEvent.Part part) {
        bufferedParts.decrementAndGet();
        bufferedBytes.addAndGet(-part.bytes());
    }

    /** Answers with {@code problem} instead of a reply; call it only before {@link #commit}. */
    void respond(Problem problem, byte[] body) {
        committed = true;
        response.setStatus(problem.status());
        problem.headers(response::setHeader);
        response.setContentLength(body.length);
        pending.add(body);
        end();
    }

    /** Ends the response once everything written so far has been taken. */
    void end() {
        ended = true;
        closing = true;
    }

    /** Cuts the response off: the client sees an incomplete transfer. Nothing more is written. */
    void abort(Throwable cause) {
        ended = true;
        pending.clear();
        gone = true;
        ServletContextRequest.getServletContextRequest(request).getServletChannel().abort(cause);
        done.complete(null); // the connection is gone; there is nothing left to write
    }

    private void clientGone(Throwable e) {
        ended = true;
        gone = true;
        pending.clear();
        try {
            events.clientGone(e);
        } finally {
            done.complete(null);
        }
    }

    /**
     * Hands waiting bytes to the response without ever blocking: writes while the container says
     * the client can take more, and otherwise returns; the write listener wakes the writer again.
     */
    private void pump() throws IOException {
        while (true) {
            waitingForWritable = true; // before asking, so a callback right after a "no" is not missed
            if (!out.isReady()) {
                return; // the write listener resumes us
            }
            waitingForWritable = false;
            Object next = pending.poll();
            if (next == null) {
                if (unflushed) {
                    unflushed = false;
                    out.flush();
                    continue;
                }
                if (closing) {
                    closing = false;
                    done.complete(null);
                }
                return;
            }
            if (next instanceof byte[] bytes) {
                out.write(bytes);
                unflushed = true;
            } else if (next instanceof FrameRef frame) {
                frame.body().writeFrameTo(frame.index(), out);
                unflushed = true;
            } else if (next instanceof StreamEvent.Part part) {
                release(part);
            }
        }
    }

    /** One frame of a raw reply, written from the body itself without a copy. */
    private record FrameRef(Body body, int index) {}
}
