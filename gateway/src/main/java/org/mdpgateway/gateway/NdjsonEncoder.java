package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** NDJSON: one JSON object per part, and one for an error, each on its own line. */
record NdjsonEncoder(ObjectMapper mapper) implements ReplyEncoder {
    static final String CONTENT_TYPE = "application/x-ndjson";
    private static final byte[] NEWLINE = {'\n'};

    @Override
    public StreamEvent.Overflow part(StreamEvent.Part part, int seq, ReplySink sink) throws IOException {
        sink.commit(CONTENT_TYPE, true);
        sink.write(PartJson.part(mapper, part, seq));
        sink.write(NEWLINE);
        return null;
    }

    @Override
    public boolean error(Problem problem, ReplySink sink) throws IOException {
        sink.write(PartJson.error(mapper, problem));
        sink.write(NEWLINE);
        return true;
    }
}
