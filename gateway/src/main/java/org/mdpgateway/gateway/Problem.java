package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * An RFC 9457 problem detail: every error the gateway reports, as an HTTP status with an
 * {@code application/problem+json} body before the first byte of a reply, or in-band after it.
 */
record Problem(int status, String slug, String title, String detail, String instance, String service,
        Map<String, Object> extensions) {

    static final String MEDIA_TYPE = "application/problem+json";
    /** Problem types are URNs of ours: stable identifiers that need no host to resolve. */
    static final String TYPE_PREFIX = "urn:mdp-gateway:problem:";

    Problem {
        extensions = extensions == null ? Map.of() : Map.copyOf(extensions);
    }

    static Problem of(int status, String slug, String title, String detail, String instance, String service) {
        return new Problem(status, slug, title, detail, instance, service, Map.of());
    }

    Problem with(String key, Object value) {
        java.util.HashMap<String, Object> more = new java.util.HashMap<>(extensions);
        more.put(key, value);
        return new Problem(status, slug, title, detail, instance, service, more);
    }

    String type() {
        return TYPE_PREFIX + slug;
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
        extensions.forEach((k, v) -> node.set(k, mapper.valueToTree(v)));
        return node;
    }
}
