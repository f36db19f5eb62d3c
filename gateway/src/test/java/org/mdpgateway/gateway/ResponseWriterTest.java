package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.Body;

/**
 * The non-blocking writer against an in-memory response whose client takes a set number of writes
 * before it is "not ready", drained on the calling thread.
 */
class ResponseWriterTest {
    /** An output stream whose client can take {@code capacity} more writes. */
    static final class SlowOutput extends ServletOutputStream {
        final ByteArrayOutputStream taken = new ByteArrayOutputStream();
        WriteListener listener;
        int capacity = Integer.MAX_VALUE;
        int flushes;

        @Override
        public boolean isReady() {
            return capacity > 0;
        }

        @Override
        public void setWriteListener(WriteListener writeListener) {
            listener = writeListener;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            assertTrue(isReady(), "written only when ready");
            capacity--;
            taken.write(b, off, len);
        }

        @Override
        public void flush() {
            flushes++;
        }

        /** The client takes {@code more} writes; the container calls back. */
        void drained(int more) throws IOException {
            capacity = more;
            listener.onWritePossible();
        }

        String text() {
            return taken.toString(StandardCharsets.UTF_8);
        }
    }

    final SlowOutput out = new SlowOutput();
    final Map<String, Object> head = new LinkedHashMap<>();
    final List<StreamEvent> handled = new ArrayList<>();
    final List<Throwable> gone = new ArrayList<>();
    ResponseWriter writer;

    private ResponseWriter writer(int maxParts, long maxBytes, ResponseWriter.Events events) {
        HttpServletResponse response = (HttpServletResponse) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getOutputStream":
                            return out;
                        case "setStatus":
                            head.put("status", args[0]);
                            return null;
                        case "setContentType":
                            head.put("Content-Type", args[0]);
                            return null;
                        case "setHeader":
                            head.put((String) args[0], args[1]);
                            return null;
                        case "setContentLength":
                        case "setContentLengthLong":
                            head.put("Content-Length", ((Number) args[0]).longValue());
                            return null;
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
        writer = new ResponseWriter((HttpServletRequest) null, response, Runnable::run, maxParts, maxBytes, events);
        writer.start();
        return writer;
    }

    /** Answers a part with its frames, and ends the reply with the FINAL. */
    private ResponseWriter framesWriter(int maxParts, long maxBytes) {
        return writer(maxParts, maxBytes, new ResponseWriter.Events() {
            @Override
            public void handle(StreamEvent event) {
                handled.add(event);
                if (event instanceof StreamEvent.Part part) {
                    writer.commit("application/octet-stream", true);
                    for (int i = 0; i < part.body().size(); i++) {
                        writer.writeFrame(part.body(), i);
                    }
                    writer.endOfPart(part);
                    if (part.isFinal()) {
                        writer.end();
                    }
                }
            }

            @Override
            public void clientGone(Throwable cause) {
                gone.add(cause);
            }
        });
    }

    private static StreamEvent.Part part(boolean isFinal, String... frames) {
        Body body = Body.ofStrings(frames);
        return new StreamEvent.Part(isFinal, body, body.byteCount());
    }

    private void send(StreamEvent.Part part) {
        assertNull(writer.reserve(part, !part.isFinal()));
        writer.offer(part);
    }

    @Test
    void writesWhileTheClientTakesMoreFlushesAndIsDoneAfterTheEnd() {
        framesWriter(10, 1000);
        send(part(false, "a", "b"));
        assertEquals("ab", out.text());
        assertEquals(1, out.flushes, "one flush per part");
        assertFalse(writer.done.isDone());
        send(part(true, "c"));
        assertEquals("abc", out.text());
        assertTrue(writer.done.isDone());
        assertEquals(Map.of("status", 200, "Content-Type", "application/octet-stream", "Cache-Control", "no-cache",
                "X-Accel-Buffering", "no"), head);
    }

    @Test
    void bytesWaitForTheClientAndTheWriteListenerResumes() throws IOException {
        framesWriter(10, 1000);
        out.capacity = 1;
        send(part(false, "a", "b", "c"));
        assertEquals("a", out.text(), "not ready after one write: the rest waits");
        send(part(true, "d"));
        assertEquals("a", out.text(), "a later part waits behind the first");
        assertFalse(writer.done.isDone());
        out.drained(2);
        assertEquals("abc", out.text());
        out.drained(10);
        assertEquals("abcd", out.text());
        assertTrue(writer.done.isDone());
        assertEquals(2, handled.size());
    }

    @Test
    void aPartCountsInTheBudgetUntilTheClientHasTakenIt() throws IOException {
        framesWriter(2, 1000);
        out.capacity = 0;
        send(part(false, "1"));
        send(part(false, "2"));
        assertEquals(new StreamEvent.Overflow(true), writer.reserve(part(false, "3"), true));
        out.drained(100);
        assertEquals("12", out.text());
        assertNull(writer.reserve(part(false, "4"), true), "taken parts leave the budget");
    }

    @Test
    void theByteBudgetTakesOneLargePartAlone() {
        framesWriter(100, 4);
        out.capacity = 0;
        assertNull(writer.reserve(part(false, "12345"), true));
        assertEquals(new StreamEvent.Overflow(false), writer.reserve(part(false, "6"), true));
        assertNull(writer.reserve(part(true, "7"), false), "the FINAL is always taken");
    }

    @Test
    void aClientErrorEndsTheResponseAndLaterPartsAreDropped() {
        framesWriter(10, 1000);
        out.capacity = 0;
        send(part(false, "1"));
        IOException broken = new IOException("reset");
        out.listener.onError(broken);
        assertEquals(List.of(broken), gone);
        assertTrue(writer.done.isDone());
        send(part(false, "2"));
        assertEquals(1, handled.size(), "nothing is handled after the client left");
        assertEquals("", out.text());
    }

    @Test
    void aProblemIsTheWholeResponseWithItsHeaders() throws IOException {
        writer(10, 1000, new ResponseWriter.Events() {
            @Override
            public void handle(StreamEvent event) {
                Problem problem = ProblemType.SLOW_READER.problem("slow", "id-1", "echo");
                writer.respond(problem, "{}".getBytes(StandardCharsets.UTF_8));
            }

            @Override
            public void clientGone(Throwable cause) {
                gone.add(cause);
            }
        });
        writer.offer(StreamEvent.SHUTDOWN);
        assertEquals("{}", out.text());
        assertTrue(writer.done.isDone());
        assertTrue(writer.committed());
        assertEquals(Map.of("status", 503, "Content-Type", Problem.MEDIA_TYPE, "Retry-After", "1",
                "Content-Length", 2L), head);
        assertEquals(List.of(), gone);
    }

    @Test
    void writersShutDown_endTheResponse_andNothingIsThrownAtTheOfferer() {
        java.util.concurrent.Executor shutDown = task -> {
            throw new java.util.concurrent.RejectedExecutionException("shut down");
        };
        writer = new ResponseWriter(null, proxyLike(), shutDown, 10, 1000, null);
        writer.offer(StreamEvent.SHUTDOWN); // would throw before
        assertTrue(writer.done.isDone(), "a response no writer will serve is ended, not left to hang");
    }

    @Test
    void aClientGoneHandlerThatThrows_stillEndsTheResponse() {
        List<StreamEvent> seen = new ArrayList<>();
        writer(10, 1000, new ResponseWriter.Events() {
            @Override
            public void handle(StreamEvent event) {
                seen.add(event);
            }

            @Override
            public void clientGone(Throwable cause) {
                throw new IllegalStateException("bug in a handler");
            }
        });
        assertThrows(IllegalStateException.class, () -> out.listener.onError(new IOException("reset")));
        assertTrue(writer.done.isDone());
        writer.offer(StreamEvent.SHUTDOWN);
        assertEquals(List.of(), seen, "nothing is handled after the client left");
    }

    private HttpServletResponse proxyLike() {
        return (HttpServletResponse) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
