package org.mdpgateway.gateway;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.mdpgateway.mdp.Body;

/** The JSON of a reply's items: {@code {"type":"partial"|"final","seq":n,"frames":[...]}} and the error item. */
final class PartJson {
    private PartJson() {}

    static String type(StreamEvent.Part part) {
        return part.isFinal() ? "final" : "partial";
    }

    static byte[] part(ObjectMapper mapper, StreamEvent.Part part, int seq) throws IOException {
        Body body = part.body();
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(64 + (int) Math.min(body.byteCount() * 2, 1 << 20));
        try (JsonGenerator json = mapper.getFactory().createGenerator(buffer)) {
            write(json, part, seq);
        }
        return buffer.toByteArray();
    }

    static void write(JsonGenerator json, StreamEvent.Part part, int seq) throws IOException {
        json.writeStartObject();
        json.writeStringField("type", type(part));
        json.writeNumberField("seq", seq);
        json.writeFieldName("frames");
        FrameJson.writeFrames(part.body(), json);
        json.writeEndObject();
    }

    /** {@code {"type":"error","problem":{...}}}. */
    static byte[] error(ObjectMapper mapper, Problem problem) throws IOException {
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
}
