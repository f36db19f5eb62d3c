package org.mdpgateway.gateway;

import org.mdpgateway.mdp.Body;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.mdpgateway.broker.ReplyHandler;
import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.broker.RequestHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One POST's reply on its way from the broker to the HTTP client.
 *
 * <p>The broker thread hands each PARTIAL, the FINAL or a failure to {@link ReplyHandler} methods,
 * which only queue it; a writer thread then renders it and hands the bytes to the response with
 * non-blocking writes, so neither the broker nor a writer ever waits for a client: when the client
 * cannot take more, the bytes wait and the response's write listener resumes the writer. No thread
 * waits for the worker either: the servlet request is asynchronous until {@link #done} completes.
 * A reader that falls more than {@code maxBufferedParts} parts or {@code maxBufferedBytes} body
 * bytes behind gets an error and its request is cancelled, so a slow client cannot grow memory; a
 * JSON reply, collected whole before it is written, has the same two limits.
 *
 * <p>Until the first byte goes out every failure is a real status with a problem+json body; after
 * it, failures are in-band: an {@code error} event or line, or for raw bytes a cut-off stream.
 */
final class ReplyStream implements ReplyHandler {
    private static final Logger log = LoggerFactory.getLogger(ReplyStream.class);
    static final String SHUTTING_DOWN_DETAIL = "the gateway is stopping; try again shortly";
    private static final Object PING = new Object();
    private static final Object SHUTDOWN = new Object();
    /** The response can take more bytes. */
    private static final Object WRITABLE = new Object();
    private static final byte[] PING_COMMENT = ": ping\n\n".getBytes(StandardCharsets.US_ASCII);

    private final Context ctx;
    private final ReplyFormat format;
    private final String service;
    private final String requestId;
    private final ObjectMapper mapper;
    private final Executor writer;
    private final int maxBufferedParts;
    private final long maxBufferedBytes;
    private final GatewayMetrics metrics;
    private final long startNanos = System.nanoTime();

    /** Completes when the response is finished, one way or another. */
    final CompletableFuture<Void> done = new CompletableFuture<>();

    private final Queue<Object> events = new ConcurrentLinkedQueue<>();
    /** Parts and their body bytes handed over by the broker and not yet taken by the client. */
    private final AtomicInteger bufferedParts = new AtomicInteger();
    private final AtomicLong bufferedBytes = new AtomicLong();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final AtomicBoolean overflowed = new AtomicBoolean();
    private volatile RequestHandle handle;
    /**
     * Set while a writer found the response not ready: only then does a write-possible callback
     * have work to resume. The container also calls back once when the listener is set; that
     * call finds nothing waiting and costs no wake-up.
     */
    private volatile boolean waitingForWritable;

    // Writer thread only (one drain runs at a time).
    private boolean committed;
    private boolean finished;
    /** Finished and waiting for {@link #pending} to drain before {@link #done} completes. */
    private boolean closing;
    /** The client is gone or the stream was cut off: nothing more is written. */
    private boolean gone;
    private boolean unflushed;
    private ServletOutputStream out;
    /** Bytes and frames waiting for the client to take them, in order; a {@link Part} marks its end. */
    private final java.util.ArrayDeque<Object> pending = new java.util.ArrayDeque<>();
    private int seq;
    private List<Object[]> aggregated;
    private long aggregatedBytes;

    ReplyStream(Context ctx, ReplyFormat format, String service, String requestId, ObjectMapper mapper,
            Executor writer, int maxBufferedParts, long maxBufferedBytes, GatewayMetrics metrics) {
        this.ctx = ctx;
        this.format = format;
        this.service = service;
        this.requestId = requestId;
        this.mapper = mapper;
        this.writer = writer;
        this.maxBufferedParts = maxBufferedParts;
        this.maxBufferedBytes = maxBufferedBytes;
        this.metrics = metrics;
    }

    /**
     * Puts the response in non-blocking mode. Call it on the request's own thread once the request
     * is asynchronous, before the request is submitted: while the container still handles the
     * request, it delivers the listener's first callback on this same thread when the handler
     * returns, instead of waking another thread for it.
     */
    void startWriting() {
        try {
            out = ctx.res().getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.setWriteListener(new WriteListener() {
            @Override
            public void onWritePossible() {
                if (waitingForWritable) {
                    waitingForWritable = false;
                    offer(WRITABLE);
                }
            }

            @Override
            public void onError(Throwable t) {
                offer(new ClientError(t));
            }
        });
    }

    void attach(RequestHandle handle) {
        this.handle = handle;
    }

    // ---- from the broker thread: queue and return ----------------------------------------------

    @Override
    public void onPartial(Body partial) {
        metrics.partial(service);
        Part part = new Part(false, partial, partial.byteCount());
        int parts = bufferedParts.incrementAndGet();
        long bytes = bufferedBytes.addAndGet(part.bytes);
        // One part alone is always taken: it is in memory already, bounded by the broker's largest message.
        if (parts > maxBufferedParts || (bytes > maxBufferedBytes && parts > 1)) {
            if (overflowed.compareAndSet(false, true)) {
                cancelRequest();
                offer(new Overflow(parts > maxBufferedParts));
            }
            return;
        }
        offer(part);
    }

    @Override
    public void onFinal(Body reply) {
        Part part = new Part(true, reply, reply.byteCount());
        bufferedParts.incrementAndGet();
        bufferedBytes.addAndGet(part.bytes);
        offer(part);
    }

    @Override
    public void onFailure(RequestFailure failure) {
        offer(failure);
    }

    /** From the ping timer: keeps an SSE stream open through proxies and finds departed clients. */
    void ping() {
        if (format == ReplyFormat.SSE && !done.isDone()) {
            offer(PING);
        }
    }

    /** From the shutdown sequence: ends the response with a 503 or an in-band error. */
    void shutdown() {
        if (!done.isDone()) {
            cancelRequest();
            offer(SHUTDOWN);
        }
    }

    private void cancelRequest() {
        RequestHandle h = handle;
        if (h != null) {
            h.cancel();
        }
    }

    private void offer(Object event) {
        events.add(event);
        if (drainScheduled.compareAndSet(false, true)) {
            writer.execute(this::drain);
        }
    }

    // ---- on a writer thread --------------------------------------------------------------------

    private void drain() {
        do {
            Object event;
            while ((event = events.poll()) != null) {
                if (gone) {
                    continue;
                }
                try {
                    if (event == WRITABLE) {
                        pump();
                    } else if (event instanceof ClientError error) {
                        clientGone(error.cause());
                    } else if (!finished) {
                        handle(event);
                        pump();
                    } else if (event instanceof Part part) {
                        release(part); // after the end: dropped
                    }
                } catch (IOException | RuntimeException e) {
                    clientGone(e);
                }
            }
            drainScheduled.set(false);
        } while (!events.isEmpty() && drainScheduled.compareAndSet(false, true));
    }

    private void handle(Object event) throws IOException {
        if (event instanceof Part part) {
            if (format == ReplyFormat.JSON) {
                aggregate(part);
            } else {
                writePart(part);
            }
            if (part.isFinal && !finished) {
                finish();
            }
        } else if (event instanceof RequestFailure failure) {
            fail(ProblemType.of(failure.reason()).problem(failure.detail(), requestId, service));
        } else if (event == PING) {
            commit();
            write(PING_COMMENT);
        } else if (event instanceof Overflow overflow) {
            if (format == ReplyFormat.JSON) {
                failTooLargeToCollect(overflow.byParts());
            } else {
                fail(ProblemType.SLOW_READER.problem("the client read the reply more slowly than the worker sent it; "
                        + limit(overflow.byParts()) + " were waiting " + flag(overflow.byParts()), requestId, service));
            }
        } else if (event == SHUTDOWN) {
            fail(ProblemType.SHUTTING_DOWN.problem(SHUTTING_DOWN_DETAIL, requestId, service));
        }
    }

    private void writePart(Part part) throws IOException {
        seq++;
        boolean whole = part.isFinal && !committed;
        commit();
        switch (format) {
            case RAW:
                if (whole) {
                    // The whole reply is known: a length instead of chunks saves the client a
                    // parse and the server a write.
                    ctx.res().setContentLengthLong(part.body.byteCount());
                }
                for (int i = 0; i < part.body.size(); i++) {
                    pending.add(new FrameRef(part.body, i));
                }
                break;
            case NDJSON:
                pending.add(partJson(part.isFinal ? "final" : "partial", seq, part.body));
                pending.add(NEWLINE);
                break;
            case SSE:
                pending.add(sseEvent(part.isFinal ? "final" : "partial", Integer.toString(seq),
                        partJson(part.isFinal ? "final" : "partial", seq, part.body)));
                break;
            default:
                throw new AssertionError(format);
        }
        pending.add(part); // its end
    }

    /** The client has taken {@code part}, or it will never be written. */
    private void release(Part part) {
        bufferedParts.decrementAndGet();
        bufferedBytes.addAndGet(-part.bytes);
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
            } else if (next instanceof Part part) {
                release(part);
            }
        }
    }

    private static final byte[] NEWLINE = {'\n'};

    private void aggregate(Part part) throws IOException {
        seq++;
        release(part); // collected here, not waiting for the client
        if (aggregated == null) {
            aggregated = new ArrayList<>();
        }
        aggregatedBytes += part.bytes;
        boolean tooManyParts = aggregated.size() >= maxBufferedParts && !part.isFinal;
        if (tooManyParts || (aggregatedBytes > maxBufferedBytes && !aggregated.isEmpty())) {
            failTooLargeToCollect(tooManyParts);
            return;
        }
        aggregated.add(new Object[] {part.isFinal ? "final" : "partial", seq, part.body});
        if (!part.isFinal) {
            return;
        }
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (JsonGenerator json = mapper.getFactory().createGenerator(buffer)) {
            json.writeStartObject();
            json.writeStringField("service", service);
            json.writeArrayFieldStart("parts");
            for (Object[] p : aggregated) {
                writePartObject(json, (String) p[0], (Integer) p[1], (Body) p[2]);
            }
            json.writeEndArray();
            json.writeEndObject();
        }
        HttpServletResponse res = ctx.res();
        res.setStatus(200);
        res.setContentType(ReplyFormat.JSON.mediaType);
        res.setContentLength(buffer.size());
        committed = true;
        pending.add(buffer.toByteArray());
    }

    private void failTooLargeToCollect(boolean byParts) throws IOException {
        cancelRequest();
        fail(ProblemType.REPLY_TOO_LARGE.problem("the reply has " + limit(byParts) + " " + flag(byParts)
                + "; ask for a stream instead (Accept: application/x-ndjson or text/event-stream)", requestId, service));
    }

    private String limit(boolean byParts) {
        return byParts ? "more than " + maxBufferedParts + " parts" : "more than " + maxBufferedBytes + " bytes of parts";
    }

    private static String flag(boolean byParts) {
        return byParts ? "(--max-buffered-parts)" : "(--max-buffered-reply-bytes)";
    }

    private byte[] partJson(String type, int n, Body body) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(64 + (int) Math.min(body.byteCount() * 2, 1 << 20));
        try (JsonGenerator json = mapper.getFactory().createGenerator(buffer)) {
            writePartObject(json, type, n, body);
        }
        return buffer.toByteArray();
    }

    private static void writePartObject(JsonGenerator json, String type, int n, Body body) throws IOException {
        json.writeStartObject();
        json.writeStringField("type", type);
        json.writeNumberField("seq", n);
        json.writeFieldName("frames");
        FrameJson.writeFrames(body, json);
        json.writeEndObject();
    }

    private static byte[] sseEvent(String event, String id, byte[] data) {
        // The JSON has no raw newlines, so it is exactly one data line.
        byte[] head = ("event: " + event + "\n" + (id != null ? "id: " + id + "\n" : "") + "data: ")
                .getBytes(StandardCharsets.UTF_8);
        byte[] frame = new byte[head.length + data.length + 2];
        System.arraycopy(head, 0, frame, 0, head.length);
        System.arraycopy(data, 0, frame, head.length, data.length);
        frame[frame.length - 2] = '\n';
        frame[frame.length - 1] = '\n';
        return frame;
    }

    /** Sends status and headers; the first write after it commits them. */
    private void commit() {
        if (committed) {
            return;
        }
        committed = true;
        HttpServletResponse res = ctx.res();
        res.setStatus(200);
        res.setContentType(format == ReplyFormat.SSE ? "text/event-stream; charset=utf-8"
                : format == ReplyFormat.NDJSON ? "application/x-ndjson" : format.mediaType);
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
    }

    private void write(byte[] bytes) {
        pending.add(bytes);
    }

    private void fail(Problem problem) throws IOException {
        if (!committed) {
            committed = true;
            metrics.outcome(service, problem.status(), System.nanoTime() - startNanos);
            HttpServletResponse res = ctx.res();
            byte[] body = problem.toBytes(mapper);
            res.setStatus(problem.status());
            problem.headers(res::setHeader);
            res.setContentLength(body.length);
            pending.add(body);
            finished = true;
            closing = true;
            return;
        }
        metrics.outcome(service, problem.status(), System.nanoTime() - startNanos);
        finished = true;
        switch (format) {
            case SSE:
                write(sseEvent("error", null, errorJson(problem)));
                closing = true;
                break;
            case NDJSON:
                write(errorJson(problem));
                write(NEWLINE);
                closing = true;
                break;
            default:
                // Raw bytes have no way to say "error" in-band: cut the stream off, so the client sees
                // an incomplete chunked transfer rather than a reply that looks whole.
                log.debug("request {} to '{}' failed after its first byte: {}", requestId, service, problem.detail());
                StreamAbortedException cause = new StreamAbortedException(problem.detail());
                pending.clear();
                gone = true;
                ServletContextRequest.getServletContextRequest(ctx.req()).getServletChannel().abort(cause);
                done.complete(null); // the connection is gone; there is nothing left to write
        }
    }

    private byte[] errorJson(Problem problem) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (JsonGenerator json = mapper.getFactory().createGenerator(buffer)) {
            json.writeStartObject();
            json.writeStringField("type", "error");
            json.writeFieldName("problem");
            mapper.writeTree(json, problem.toJson(mapper));
            json.writeEndObject();
        }
        return buffer.toByteArray();
    }

    private void finish() {
        finished = true;
        closing = true; // done once everything pending has been written
        metrics.outcome(service, 200, System.nanoTime() - startNanos);
    }

    private void clientGone(Throwable e) {
        finished = true;
        gone = true;
        pending.clear();
        cancelRequest();
        metrics.clientGone(service);
        log.debug("client of request {} to '{}' went away: {}", requestId, service, e.toString());
        done.complete(null);
    }

    private record Part(boolean isFinal, Body body, long bytes) {}

    /** Too much was waiting: more parts than allowed, or else more bytes. */
    private record Overflow(boolean byParts) {}

    /** One frame of a raw reply, written from the body itself without a copy. */
    private record FrameRef(Body body, int index) {}

    private record ClientError(Throwable cause) {}

    /** Ends a raw stream abruptly after a failure. */
    static final class StreamAbortedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StreamAbortedException(String message) {
            super(message, null, false, false);
        }
    }
}
