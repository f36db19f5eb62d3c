package org.mdpgateway.gateway;

import org.mdpgateway.mdp.Body;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Frames in JSON: {@code {"text":"..."}} for a frame that is valid UTF-8, else {@code {"base64":"..."}}.
 */
final class FrameJson {
    private FrameJson() {}

    static void writeFrames(Body body, JsonGenerator json) throws IOException {
        json.writeStartArray();
        for (int i = 0; i < body.size(); i++) {
            json.writeStartObject();
            ByteBuffer frame = body.frameBuffer(i);
            String text = utf8OrNull(frame);
            if (text != null) {
                json.writeStringField("text", text);
            } else {
                json.writeStringField("base64", Base64.getEncoder().encodeToString(body.frame(i)));
            }
            json.writeEndObject();
        }
        json.writeEndArray();
    }

    private static String utf8OrNull(ByteBuffer frame) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(frame)
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /**
     * Reads the request envelope {@code {"frames":[{"text":...}|{"base64":...}, ...]}}.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    static Body readEnvelope(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("the body must be a JSON object {\"frames\": [...]}");
        }
        JsonNode frames = root.get("frames");
        if (frames == null || !frames.isArray()) {
            throw new IllegalArgumentException("\"frames\" must be an array of {\"text\"} or {\"base64\"} objects");
        }
        if (frames.isEmpty()) {
            throw new IllegalArgumentException("\"frames\" must hold at least one frame: an MDP request has a body");
        }
        List<byte[]> bytes = new ArrayList<>(frames.size());
        for (int i = 0; i < frames.size(); i++) {
            JsonNode frame = frames.get(i);
            if (!frame.isObject() || frame.size() != 1) {
                throw new IllegalArgumentException("frame " + i + " must be an object with exactly one of \"text\" or \"base64\"");
            }
            JsonNode text = frame.get("text");
            JsonNode base64 = frame.get("base64");
            if (text != null && text.isTextual()) {
                bytes.add(text.textValue().getBytes(StandardCharsets.UTF_8));
            } else if (base64 != null && base64.isTextual()) {
                try {
                    bytes.add(Base64.getDecoder().decode(base64.textValue()));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("frame " + i + " is not valid base64: " + e.getMessage());
                }
            } else {
                throw new IllegalArgumentException("frame " + i + " must be {\"text\": string} or {\"base64\": string}");
            }
        }
        return Body.adopt(bytes);
    }
}
