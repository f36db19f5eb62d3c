package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Server-Sent Events: an {@code event:} per part named by its type, {@code id:} its number, and
 * one {@code data:} line holding the same JSON as an NDJSON line; {@code : ping} comments between.
 */
record SseEncoder(ObjectMapper mapper) implements ReplyEncoder {
    static final String CONTENT_TYPE = "text/event-stream; charset=utf-8";
    private static final byte[] PING_COMMENT = ": ping\n\n".getBytes(StandardCharsets.US_ASCII);

    @Override
    public StreamEvent.Overflow part(StreamEvent.Part part, int seq, ReplySink sink) throws IOException {
        sink.commit(CONTENT_TYPE, true);
        sink.write(event(PartJson.type(part), Integer.toString(seq), PartJson.part(mapper, part, seq)));
        return null;
    }

    @Override
    public void ping(ReplySink sink) {
        sink.commit(CONTENT_TYPE, true);
        sink.write(PING_COMMENT);
    }

    @Override
    public boolean error(Problem problem, ReplySink sink) throws IOException {
        sink.write(event("error", null, PartJson.error(mapper, problem)));
        return true;
    }

    private static byte[] event(String event, String id, byte[] data) {
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
}
