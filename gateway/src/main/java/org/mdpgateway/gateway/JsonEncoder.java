package org.mdpgateway.gateway;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One JSON document, {@code {"service":...,"parts":[...]}}, written after the FINAL with its
 * length. The parts are collected until then, at most {@code maxParts} of them and
 * {@code maxBytes} of their bodies (one part alone may be larger).
 */
final class JsonEncoder implements ReplyEncoder {
    private final ObjectMapper mapper;
    private final String service;
    private final int maxParts;
    private final long maxBytes;
    private final List<StreamEvent.Part> parts = new ArrayList<>();
    private long bytes;

    JsonEncoder(ObjectMapper mapper, String service, int maxParts, long maxBytes) {
        this.mapper = mapper;
        this.service = service;
        this.maxParts = maxParts;
        this.maxBytes = maxBytes;
    }

    @Override
    public StreamEvent.Overflow part(StreamEvent.Part part, int seq, ReplySink sink) throws IOException {
        bytes += part.bytes();
        boolean tooManyParts = parts.size() >= maxParts && !part.isFinal();
        if (tooManyParts || (bytes > maxBytes && !parts.isEmpty())) {
            return new StreamEvent.Overflow(tooManyParts);
        }
        parts.add(part);
        if (part.isFinal()) {
            sink.commit(ReplyFormat.JSON.mediaType, false);
            byte[] document = document();
            sink.contentLength(document.length);
            sink.write(document);
        }
        return null;
    }

    private byte[] document() throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (JsonGenerator json = mapper.getFactory().createGenerator(buffer)) {
            json.writeStartObject();
            json.writeStringField("service", service);
            json.writeArrayFieldStart("parts");
            for (int i = 0; i < parts.size(); i++) {
                PartJson.write(json, parts.get(i), i + 1);
            }
            json.writeEndArray();
            json.writeEndObject();
        }
        return buffer.toByteArray();
    }
}
