package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.openapi.OpenApiDocument;

/** The catalogue of problem types, against the API document and the broker's failure reasons. */
class ProblemTypeTest {
    /** A type in the document; {@code urn:...:<slug>} and {@code http-<status>} are placeholders, not types. */
    private static final Pattern TYPE = Pattern.compile(Pattern.quote(Problem.TYPE_PREFIX) + "([a-z0-9-]+)(?![<a-z0-9-])");

    @Test
    void theDocumentListsExactlyTheCataloguedTypes() {
        Matcher m = TYPE.matcher(new String(OpenApiDocument.yaml(), StandardCharsets.UTF_8));
        Set<String> documented = new TreeSet<>();
        while (m.find()) {
            documented.add(m.group(1));
        }
        Set<String> catalogued = Arrays.stream(ProblemType.values()).map(t -> t.slug)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(catalogued, documented);
    }

    @Test
    void slugsAreUnique() {
        assertEquals(ProblemType.values().length, Arrays.stream(ProblemType.values()).map(t -> t.slug).distinct().count());
    }

    @Test
    void everyFailureReasonHasItsType() {
        Map<RequestFailure.Reason, ProblemType> expected = new LinkedHashMap<>();
        expected.put(RequestFailure.Reason.REFUSED, ProblemType.QUEUE_FULL);
        expected.put(RequestFailure.Reason.EXPIRED, ProblemType.NO_WORKER);
        expected.put(RequestFailure.Reason.DEADLINE, ProblemType.DEADLINE);
        expected.put(RequestFailure.Reason.WORKER_LOST, ProblemType.WORKER_LOST);
        expected.put(RequestFailure.Reason.REPLY_TOO_LARGE, ProblemType.WORKER_LOST);
        expected.put(RequestFailure.Reason.BROKER_STOPPED, ProblemType.SHUTTING_DOWN);
        assertEquals(Set.of(RequestFailure.Reason.values()), expected.keySet());
        expected.forEach((reason, type) -> assertEquals(type, ProblemType.of(reason), reason.name()));
    }

    @Test
    void aRetryHintIsAHeaderAndAMember() {
        ObjectMapper mapper = new ObjectMapper();
        Problem problem = ProblemType.NO_WORKER.problem("none", "id-1", "echo");
        Map<String, String> headers = new LinkedHashMap<>();
        problem.headers(headers::put);
        assertEquals(Map.of("Content-Type", Problem.MEDIA_TYPE, "Retry-After", "1"), headers);
        ObjectNode json = problem.toJson(mapper);
        assertEquals("urn:mdp-gateway:problem:no-worker", json.get("type").asText());
        assertEquals("No worker available", json.get("title").asText());
        assertEquals(503, json.get("status").asInt());
        assertEquals(1, json.get("retryAfterSeconds").asInt());
        assertEquals("echo", json.get("service").asText());

        Problem noRetry = ProblemType.DEADLINE.problem("late", "id-2", null);
        headers.clear();
        noRetry.headers(headers::put);
        assertEquals(Map.of("Content-Type", Problem.MEDIA_TYPE), headers);
        ObjectNode late = noRetry.toJson(mapper);
        assertFalse(late.has("retryAfterSeconds"));
        assertFalse(late.has("service"));
    }

    @Test
    void aStatusWithoutATypeIsNamedByItsNumber() {
        Problem problem = Problem.unlisted(505, "HTTP 505", "version", "id-3");
        assertEquals("urn:mdp-gateway:problem:http-505", problem.type());
        assertEquals(505, problem.status());
    }
}
