package org.mdpgateway.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * An RFC 9457 problem detail: every error the gateway reports, as an HTTP status with an
 * {@code application/problem+json} body before the first byte of a reply, or in-band after it.
 * Its kind is a {@link ProblemType}; only a status the HTTP server answers by itself that has no
 * type of its own is {@link #unlisted}.
 */
record Problem(int status, String slug, String title, boolean retryHint, String detail, String instance,
        String service, Map<String, Object> extensions) {

    static final String MEDIA_TYPE = "application/problem+json";
    /** Problem types are URNs of ours: stable identifiers that need no host to resolve. */
    static final String TYPE_PREFIX = "urn:mdp-gateway:problem:";

    Problem {
        extensions = extensions == null ? Map.of() : Map.copyOf(extensions);
    }

    static Problem of(ProblemType type, String detail, String instance, String service) {
        return new Problem(type.status, type.slug, type.title, type.retryHint, detail, instance, service, Map.of());
    }

    /** A status with no type in {@link ProblemType}: {@code urn:mdp-gateway:problem:http-<status>}. */
    static Problem unlisted(int status, String title, String detail, String instance) {
        return new Problem(status, "http-" + status, title, false, detail, instance, null, Map.of());
    }

    Problem with(String key, Object value) {
        HashMap<String, Object> more = new HashMap<>(extensions);
        more.put(key, value);
        return new Problem(status, slug, title, retryHint, detail, instance, service, more);
    }

    String type() {
        return TYPE_PREFIX + slug;
    }

    /** The response headers of this problem, whatever writes them: its media type and any retry hint. */
    void headers(BiConsumer<String, String> header) {
        header.accept("Content-Type", MEDIA_TYPE);
        if (retryHint) {
            header.accept("Retry-After", Integer.toString(ProblemType.RETRY_AFTER_SECONDS));
        }
    }

    ObjectNode toJson(ObjectMapper mapper) {
        ObjectNode node = mapper.createObjectNode();
        node.put("type", type());
        node.put("title", title);
        node.put("status", status);
        node.put("detail", detail);
        node.put("instance", instance);
        if (service != null) {
            node.put("service", service);
        }
        if (retryHint) {
            node.put("retryAfterSeconds", ProblemType.RETRY_AFTER_SECONDS);
        }
        extensions.forEach((k, v) -> node.set(k, mapper.valueToTree(v)));
        return node;
    }

    byte[] toBytes(ObjectMapper mapper) {
        try {
            return mapper.writeValueAsBytes(toJson(mapper));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
