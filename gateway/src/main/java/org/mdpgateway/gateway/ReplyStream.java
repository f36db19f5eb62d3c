package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.mdpgateway.broker.ReplyHandler;
import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.broker.RequestHandle;
import org.mdpgateway.mdp.Body;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One POST's reply on its way from the broker to the HTTP client.
 *
 * <p>The broker thread hands each PARTIAL, the FINAL or a failure to {@link ReplyHandler} methods,
 * which only queue it on the response's {@link ResponseWriter}; a writer thread then renders it with
 * the format's {@link ReplyEncoder} and the writer hands the bytes to the response with
 * non-blocking writes, so neither the broker nor a writer ever waits for a client. No thread waits
 * for the worker either: the servlet request is asynchronous until {@link #done} completes. A
 * reader that falls more than {@code maxBufferedParts} parts or {@code maxBufferedBytes} body bytes
 * behind gets an error and its request is cancelled, so a slow client cannot grow memory; a JSON
 * reply, collected whole before it is written, has the same two limits.
 *
 * <p>Until the first byte goes out every failure is a real status with a problem+json body; after
 * it, failures are in-band: an {@code error} event or line, or for raw bytes a cut-off stream.
 */
final class ReplyStream implements ReplyHandler, ResponseWriter.Events {
    private static final Logger log = LoggerFactory.getLogger(ReplyStream.class);
    static final String SHUTTING_DOWN_DETAIL = "the gateway is stopping; try again shortly";

    private final ReplyFormat format;
    private final String service;
    private final String requestId;
    private final ObjectMapper mapper;
    private final int maxBufferedParts;
    private final long maxBufferedBytes;
    private final GatewayMetrics metrics;
    private final long startNanos = System.nanoTime();
    private final ResponseWriter writer;
    private final ReplyEncoder encoder;

    /** Completes when the response is finished, one way or another. */
    final CompletableFuture<Void> done;

    private final AtomicBoolean overflowed = new AtomicBoolean();
    private volatile RequestHandle handle;
    private volatile boolean cancelWanted;

    // Writer thread only.
    private int seq;

    ReplyStream(Context ctx, ReplyFormat format, String service, String requestId, ObjectMapper mapper,
            Executor writers, int maxBufferedParts, long maxBufferedBytes, GatewayMetrics metrics) {
        this.format = format;
        this.service = service;
        this.requestId = requestId;
        this.mapper = mapper;
        this.maxBufferedParts = maxBufferedParts;
        this.maxBufferedBytes = maxBufferedBytes;
        this.metrics = metrics;
        this.writer = new ResponseWriter(ctx.req(), ctx.res(), writers, maxBufferedParts, maxBufferedBytes, this);
        this.encoder = ReplyEncoder.forFormat(format, mapper, service, maxBufferedParts, maxBufferedBytes);
        this.done = writer.done;
    }

    /**
     * Puts the response in non-blocking mode. Call it on the request's own thread once the request
     * is asynchronous, before the request is submitted: while the container still handles the
     * request, it delivers the listener's first callback on this same thread when the handler
     * returns, instead of waking another thread for it.
     */
    void startWriting() {
        writer.start();
    }

    void attach(RequestHandle handle) {
        this.handle = handle;
        // The broker thread may have handed over parts, and a cancel been wanted, before submit returned.
        if (cancelWanted) {
            handle.cancel();
        }
    }

    // ---- from the broker thread: queue and return ----------------------------------------------

    @Override
    public void onPartial(Body partial) {
        metrics.partial(service);
        StreamEvent.Part part = new StreamEvent.Part(false, partial, partial.byteCount());
        StreamEvent.Overflow overflow = writer.reserve(part, true);
        if (overflow != null) {
            if (overflowed.compareAndSet(false, true)) {
                cancelRequest();
                writer.offer(overflow);
            }
            return;
        }
        writer.offer(part);
    }

    @Override
    public void onFinal(Body reply) {
        StreamEvent.Part part = new StreamEvent.Part(true, reply, reply.byteCount());
        writer.reserve(part, false);
        writer.offer(part);
    }

    @Override
    public void onFailure(RequestFailure failure) {
        writer.offer(new StreamEvent.Failed(failure));
    }

    /** From the ping timer: keeps an SSE stream open through proxies and finds departed clients. */
    void ping() {
        if (format == ReplyFormat.SSE && !done.isDone()) {
            writer.offer(StreamEvent.PING);
        }
    }

    /** From the shutdown sequence: ends the response with a 503 or an in-band error. */
    void shutdown() {
        if (!done.isDone()) {
            cancelRequest();
            writer.offer(StreamEvent.SHUTDOWN);
        }
    }

    private void cancelRequest() {
        cancelWanted = true; // before reading the handle: attach() reads them the other way round
        RequestHandle h = handle;
        if (h != null) {
            h.cancel();
        }
    }

    // ---- on a writer thread --------------------------------------------------------------------

    @Override
    public void handle(StreamEvent event) throws IOException {
        if (event instanceof StreamEvent.Part part) {
            seq++;
            StreamEvent.Overflow tooLarge = encoder.part(part, seq, writer);
            writer.endOfPart(part);
            if (tooLarge != null) {
                failTooLargeToCollect(tooLarge.byParts());
            } else if (part.isFinal()) {
                writer.end(); // done once everything pending has been written
                metrics.outcome(service, 200, System.nanoTime() - startNanos);
            }
        } else if (event instanceof StreamEvent.Failed failed) {
            RequestFailure failure = failed.failure();
            fail(ProblemType.of(failure.reason()).problem(failure.detail(), requestId, service));
        } else if (event instanceof StreamEvent.Ping) {
            encoder.ping(writer);
        } else if (event instanceof StreamEvent.Overflow overflow) {
            if (format == ReplyFormat.JSON) {
                failTooLargeToCollect(overflow.byParts());
            } else {
                fail(ProblemType.SLOW_READER.problem("the client read the reply more slowly than the worker sent it; "
                        + limit(overflow.byParts()) + " were waiting " + flag(overflow.byParts()), requestId, service));
            }
        } else if (event instanceof StreamEvent.Shutdown) {
            fail(ProblemType.SHUTTING_DOWN.problem(SHUTTING_DOWN_DETAIL, requestId, service));
        }
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

    private void fail(Problem problem) throws IOException {
        metrics.outcome(service, problem.status(), System.nanoTime() - startNanos);
        if (!writer.committed()) {
            writer.respond(problem, problem.toBytes(mapper));
        } else if (encoder.error(problem, writer)) {
            writer.end();
        } else {
            // No way to say "error" in-band: cut the stream off, so the client sees an incomplete
            // chunked transfer rather than a reply that looks whole.
            log.debug("request {} to '{}' failed after its first byte: {}", requestId, service, problem.detail());
            writer.abort(new StreamAbortedException(problem.detail()));
        }
    }

    @Override
    public void clientGone(Throwable e) {
        cancelRequest();
        metrics.clientGone(service);
        log.debug("client of request {} to '{}' went away: {}", requestId, service, e.toString());
    }

    /** Ends a raw stream abruptly after a failure. */
    static final class StreamAbortedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StreamAbortedException(String message) {
            super(message, null, false, false);
        }
    }
}
