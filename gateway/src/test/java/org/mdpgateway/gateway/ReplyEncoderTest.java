package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.Body;

/** Each reply format against an in-memory sink: what the client would read, and the response head. */
class ReplyEncoderTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Problem DEADLINE = ProblemType.DEADLINE.problem("too late", "req-1", "count");

    /** Collects what an encoder writes, frames included, as the client would read it. */
    static final class ByteSink implements ReplySink {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        String contentType;
        boolean live;
        long contentLength = -1;
        int commits;
        int frames;

        @Override
        public boolean committed() {
            return contentType != null;
        }

        @Override
        public void commit(String type, boolean isLive) {
            if (contentType == null) {
                contentType = type;
                live = isLive;
                commits++;
            }
        }

        @Override
        public void contentLength(long length) {
            assertTrue(committed(), "the length comes with the head");
            contentLength = length;
        }

        @Override
        public void write(byte[] b) {
            bytes.writeBytes(b);
        }

        @Override
        public void writeFrame(Body body, int index) {
            frames++;
            try {
                body.writeFrameTo(index, bytes);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String text() {
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }

    private static StreamEvent.Part partial(String... frames) {
        Body body = Body.ofStrings(frames);
        return new StreamEvent.Part(false, body, body.byteCount());
    }

    private static StreamEvent.Part last(String... frames) {
        Body body = Body.ofStrings(frames);
        return new StreamEvent.Part(true, body, body.byteCount());
    }

    private static ReplyEncoder encoder(ReplyFormat format, int maxParts, long maxBytes) {
        return ReplyEncoder.forFormat(format, MAPPER, "count", maxParts, maxBytes);
    }

    private static ReplyEncoder encoder(ReplyFormat format) {
        return encoder(format, 1024, 1 << 20);
    }

    @Test
    void rawWritesEveryFrameAsItIsAndStreamsInChunks() throws IOException {
        ReplyEncoder raw = encoder(ReplyFormat.RAW);
        ByteSink sink = new ByteSink();
        assertNull(raw.part(partial("1", "2"), 1, sink));
        assertNull(raw.part(last("done"), 2, sink));
        assertEquals("12done", sink.text());
        assertEquals(3, sink.frames, "frames are written from the body, not copied into byte arrays");
        assertEquals("application/octet-stream", sink.contentType);
        assertTrue(sink.live);
        assertEquals(-1, sink.contentLength, "a reply of several parts is chunked");
        assertFalse(raw.error(DEADLINE, sink), "raw bytes cannot say error");
    }

    @Test
    void aOnePartRawReplyHasItsLength() throws IOException {
        ByteSink sink = new ByteSink();
        encoder(ReplyFormat.RAW).part(last("hello", "world"), 1, sink);
        assertEquals("helloworld", sink.text());
        assertEquals(10, sink.contentLength);
    }

    @Test
    void ndjsonIsOneLinePerPartAndOneForAnError() throws IOException {
        ReplyEncoder ndjson = encoder(ReplyFormat.NDJSON);
        ByteSink sink = new ByteSink();
        ndjson.part(partial("1"), 1, sink);
        ndjson.part(last("done"), 2, sink);
        assertTrue(ndjson.error(DEADLINE, sink));
        assertEquals("application/x-ndjson", sink.contentType);
        assertTrue(sink.live);
        assertEquals(1, sink.commits);
        String[] lines = sink.text().split("\n", -1);
        assertEquals(4, lines.length, sink.text());
        assertEquals("", lines[3], "every line ends in a newline");
        assertEquals("{\"type\":\"partial\",\"seq\":1,\"frames\":[{\"text\":\"1\"}]}", lines[0]);
        assertEquals("{\"type\":\"final\",\"seq\":2,\"frames\":[{\"text\":\"done\"}]}", lines[1]);
        JsonNode error = MAPPER.readTree(lines[2]);
        assertEquals("error", error.get("type").asText());
        assertEquals("urn:mdp-gateway:problem:deadline", error.get("problem").get("type").asText());
        assertEquals(504, error.get("problem").get("status").asInt());
    }

    @Test
    void binaryFramesAreBase64() throws IOException {
        ByteSink sink = new ByteSink();
        Body body = Body.of(new byte[] {0, (byte) 0xff, 0x10});
        encoder(ReplyFormat.NDJSON).part(new StreamEvent.Part(true, body, 3), 1, sink);
        assertEquals("{\"type\":\"final\",\"seq\":1,\"frames\":[{\"base64\":\"AP8Q\"}]}\n", sink.text());
    }

    @Test
    void sseIsAnEventPerPartWithPingsAndAnErrorEvent() throws IOException {
        ReplyEncoder sse = encoder(ReplyFormat.SSE);
        ByteSink sink = new ByteSink();
        sse.ping(sink);
        assertEquals("text/event-stream; charset=utf-8", sink.contentType, "a ping starts the stream");
        sse.part(partial("1"), 1, sink);
        sse.part(partial("2"), 2, sink);
        assertTrue(sse.error(DEADLINE, sink));
        String text = sink.text();
        String[] events = text.split("\n\n", -1);
        assertEquals(5, events.length, text);
        assertEquals(": ping", events[0]);
        assertEquals("event: partial\nid: 1\ndata: {\"type\":\"partial\",\"seq\":1,\"frames\":[{\"text\":\"1\"}]}", events[1]);
        assertTrue(events[2].startsWith("event: partial\nid: 2\ndata: "), events[2]);
        assertTrue(events[3].startsWith("event: error\ndata: {\"type\":\"error\",\"problem\":{"), "no id on error: " + events[3]);
        assertEquals("", events[4]);
        assertTrue(sink.live);
        assertEquals(1, sink.commits);
    }

    @Test
    void sseEndsWithAFinalEvent() throws IOException {
        ByteSink sink = new ByteSink();
        encoder(ReplyFormat.SSE).part(last("done"), 1, sink);
        assertEquals("event: final\nid: 1\ndata: {\"type\":\"final\",\"seq\":1,\"frames\":[{\"text\":\"done\"}]}\n\n",
                sink.text());
    }

    @Test
    void jsonCollectsEveryPartAndWritesOneDocumentWithItsLength() throws IOException {
        ReplyEncoder json = encoder(ReplyFormat.JSON);
        ByteSink sink = new ByteSink();
        assertNull(json.part(partial("1"), 1, sink));
        assertNull(json.part(partial("2"), 2, sink));
        assertFalse(sink.committed(), "nothing goes out before the FINAL");
        assertEquals(0, sink.bytes.size());
        assertNull(json.part(last("done"), 3, sink));
        String text = sink.text();
        assertEquals("{\"service\":\"count\",\"parts\":[{\"type\":\"partial\",\"seq\":1,\"frames\":[{\"text\":\"1\"}]},"
                + "{\"type\":\"partial\",\"seq\":2,\"frames\":[{\"text\":\"2\"}]},"
                + "{\"type\":\"final\",\"seq\":3,\"frames\":[{\"text\":\"done\"}]}]}", text);
        assertEquals("application/json", sink.contentType);
        assertFalse(sink.live, "one document, not a stream");
        assertEquals(sink.bytes.size(), sink.contentLength);
    }

    /** Collects {@code parts} with the given limits; the limit the last one went past, or null. */
    private static StreamEvent.Overflow collect(ByteSink sink, int maxParts, long maxBytes, StreamEvent.Part... parts)
            throws IOException {
        ReplyEncoder json = encoder(ReplyFormat.JSON, maxParts, maxBytes);
        for (int i = 0; i < parts.length - 1; i++) {
            assertNull(json.part(parts[i], i + 1, sink), "part " + (i + 1));
        }
        return json.part(parts[parts.length - 1], parts.length, sink);
    }

    @Test
    void jsonStopsCollectingPastThePartLimitButTakesTheFinal() throws IOException {
        ByteSink tooMany = new ByteSink();
        assertEquals(new StreamEvent.Overflow(true), collect(tooMany, 2, 1 << 20, partial("1"), partial("2"), partial("3")));
        assertFalse(tooMany.committed());
        ByteSink full = new ByteSink();
        assertNull(collect(full, 1, 1 << 20, partial("1"), last("done")));
        assertTrue(full.committed());
    }

    @Test
    void jsonStopsCollectingPastTheByteLimitButTakesOneLargePart() throws IOException {
        ByteSink sink = new ByteSink();
        // One part alone may be larger than the limit; the next goes past it.
        assertEquals(new StreamEvent.Overflow(false), collect(sink, 1024, 4, partial("12345"), last("6")));
        assertFalse(sink.committed());
    }
}
