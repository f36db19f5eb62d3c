package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * One reply format: turns the parts of a reply, and a failure after it began, into what the client
 * reads. It only fills a {@link ReplySink}; how the bytes reach the client is the sink's business.
 * One per response, used by one writer thread at a time.
 */
interface ReplyEncoder {
    /**
     * Puts one part, number {@code seq} from 1, in the sink.
     *
     * @return null, or for an encoder that collects the reply the limit this part went past
     */
    StreamEvent.Overflow part(StreamEvent.Part part, int seq, ReplySink sink) throws IOException;

    /** A keep-alive, for a format that has one. */
    default void ping(ReplySink sink) {
    }

    /**
     * Says in-band that the reply failed after it began.
     *
     * @return false when the format has no way to say so
     */
    default boolean error(Problem problem, ReplySink sink) throws IOException {
        return false;
    }

    static ReplyEncoder forFormat(ReplyFormat format, ObjectMapper mapper, String service, int maxParts,
            long maxBytes) {
        return switch (format) {
            case RAW -> new RawEncoder();
            case NDJSON -> new NdjsonEncoder(mapper);
            case SSE -> new SseEncoder(mapper);
            case JSON -> new JsonEncoder(mapper, service, maxParts, maxBytes);
        };
    }
}
