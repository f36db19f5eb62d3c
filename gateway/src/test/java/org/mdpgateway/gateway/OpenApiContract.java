package org.mdpgateway.gateway;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.report.LevelResolver;
import com.atlassian.oai.validator.report.SimpleValidationReportFormat;
import com.atlassian.oai.validator.report.ValidationReport;
import com.atlassian.oai.validator.restassured.RestAssuredRequest;
import com.atlassian.oai.validator.restassured.RestAssuredResponse;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.Error;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;
import io.restassured.filter.Filter;
import io.restassured.response.Response;
import io.restassured.specification.FilterableRequestSpecification;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.mdpgateway.openapi.OpenApiDocument;

/**
 * The OpenAPI document as a test oracle: REST Assured filters that fail a test when a request or
 * response is not what the document describes.
 *
 * <ul>
 *   <li>{@link #validate()}: the request and the response must match the document
 *       (openapi-request-validator: path, method, parameters, request body, status, required headers,
 *       content type, JSON bodies against their schemas).
 *   <li>{@link #validateResponse()}: only the response, for requests that break the document on
 *       purpose (a bad timeout, a malformed envelope).
 * </ul>
 *
 * <p>On top of that library, both check that every response header is declared for that status in
 * the document (or is one of the transport's own, such as {@code Date}); that every NDJSON line and
 * SSE event is a valid {@code StreamItem}; and that a request to a path or method the document does
 * not list gets exactly its {@code NotFound} or {@code MethodNotAllowed} response.
 */
final class OpenApiContract {
    private static final String BASE = "https://mdp-gateway.invalid/openapi.json";
    /** Headers of HTTP itself, which the document does not repeat for every response. */
    private static final Set<String> TRANSPORT_HEADERS = Set.of("date", "content-type", "content-length",
            "transfer-encoding", "connection", "content-encoding", "vary", "server", "keep-alive");

    private final JsonNode document;
    private final OpenApiInteractionValidator validator;
    private final SchemaRegistry schemas;
    private final Map<Pattern, String> paths = new LinkedHashMap<>();

    private OpenApiContract() {
        try {
            String yaml = new String(OpenApiDocument.yaml(), StandardCharsets.UTF_8);
            this.document = new YAMLMapper().readTree(yaml);
            String json = new ObjectMapper().writeValueAsString(document);
            this.validator = OpenApiInteractionValidator.createForInlineApiSpecification(yaml)
                    .withLevelResolver(LevelResolver.create()
                            .withDefaultLevel(ValidationReport.Level.ERROR)
                            // Its JSON Schema validator is draft 4 (OpenAPI 3.0): it ignores 'const'
                            // and closes allOf parts. Bodies are checked below against JSON Schema
                            // 2020-12 with the OpenAPI 3.1 dialect instead.
                            .withLevel("validation.request.body.schema", ValidationReport.Level.IGNORE)
                            .withLevel("validation.response.body.schema", ValidationReport.Level.IGNORE)
                            .build())
                    .build();
            this.schemas = SchemaRegistry.withDefaultDialect(Dialects.getOpenApi31(),
                    builder -> builder.schemas(Map.of(BASE, json)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        document.path("paths").fieldNames().forEachRemaining(template -> paths.put(
                Pattern.compile(template.replaceAll("\\{[^}]+}", "[^/]+")), template));
    }

    private static final OpenApiContract INSTANCE = new OpenApiContract();

    static OpenApiContract get() {
        return INSTANCE;
    }

    JsonNode document() {
        return document;
    }

    /** Fails unless both the request and the response match the document. */
    Filter validate() {
        return filter(true);
    }

    /** Fails unless the response matches the document; the request may break it on purpose. */
    Filter validateResponse() {
        return filter(false);
    }

    private Filter filter(boolean checkRequest) {
        return (requestSpec, responseSpec, ctx) -> {
            Response response = ctx.next(requestSpec, responseSpec);
            String path = requestSpec.getDerivedPath();
            String method = requestSpec.getMethod().toLowerCase(Locale.ROOT);
            List<String> problems = new ArrayList<>();
            String template = template(path);
            if (template == null) {
                expectComponentResponse(response, "NotFound", 404, problems);
            } else if (!document.path("paths").path(template).has(method)) {
                expectComponentResponse(response, "MethodNotAllowed", 405, problems);
            } else {
                ValidationReport report = checkRequest
                        ? validator.validate(request(requestSpec), response(response))
                        : validator.validateResponse(path, Request.Method.valueOf(method.toUpperCase(Locale.ROOT)),
                                response(response));
                if (report.hasErrors()) {
                    problems.add(SimpleValidationReportFormat.getInstance().apply(report));
                }
                JsonNode operation = document.path("paths").path(template).path(method);
                JsonNode declared = resolve(operation.path("responses").path(Integer.toString(response.statusCode())));
                checkHeaders(response, declared, problems);
                checkJsonBody(response.contentType(), response.asString(), declared, "response body", problems);
                if (checkRequest) {
                    checkParameters(requestSpec, document.path("paths").path(template).path("parameters"), problems);
                    checkParameters(requestSpec, operation.path("parameters"), problems);
                }
                if (checkRequest && requestSpec.getBody() instanceof String body) {
                    checkJsonBody(requestSpec.getContentType(), body, resolve(operation.path("requestBody")),
                            "request body", problems);
                }
                checkStreamItems(response, problems);
            }
            if (!problems.isEmpty()) {
                throw new AssertionError(requestSpec.getMethod() + " " + path + " -> " + response.statusCode() + " "
                        + response.contentType() + " does not match the OpenAPI document:\n"
                        + String.join("\n", problems) + "\nbody: " + abbreviate(response.asString()));
            }
            return response;
        };
    }

    /** The document's path template that {@code path} falls under, or null. */
    String template(String path) {
        for (Map.Entry<Pattern, String> entry : paths.entrySet()) {
            if (entry.getKey().matcher(path).matches()) {
                return entry.getValue();
            }
        }
        return null;
    }

    private void expectComponentResponse(Response response, String name, int status, List<String> problems) {
        if (response.statusCode() != status) {
            problems.add("a route or method the document does not list must answer " + status + ", got "
                    + response.statusCode());
            return;
        }
        JsonNode declared = document.path("components").path("responses").path(name);
        checkHeaders(response, declared, problems);
        if (response.header(HttpApi.REQUEST_ID) == null) {
            problems.add("no X-Request-Id");
        }
        String contentType = response.contentType();
        if (!contentType.startsWith(Problem.MEDIA_TYPE)) {
            problems.add("content type " + contentType + ", not " + Problem.MEDIA_TYPE);
            return;
        }
        checkSchema(declared.path("content").path(Problem.MEDIA_TYPE).path("schema"), response.asString(),
                "body", problems);
    }

    /**
     * Query and header parameters against their schemas (the validator above reads OpenAPI 3.0
     * schemas and skips 3.1 ones such as {@code type: integer}).
     */
    private void checkParameters(FilterableRequestSpecification spec, JsonNode parameters, List<String> problems) {
        for (JsonNode p : parameters) {
            JsonNode parameter = resolve(p);
            String name = parameter.path("name").asText();
            String value;
            switch (parameter.path("in").asText()) {
                case "query":
                    value = spec.getQueryParams().get(name);
                    break;
                case "header":
                    value = spec.getHeaders().getValue(name);
                    break;
                default:
                    continue;
            }
            if (value == null) {
                if (parameter.path("required").asBoolean()) {
                    problems.add("required " + parameter.path("in").asText() + " parameter " + name + " is missing");
                }
                continue;
            }
            JsonNode schema = parameter.path("schema");
            String type = schema.path("type").asText();
            String json;
            try {
                json = (type.equals("integer") || type.equals("number")) && value.matches("-?[0-9]+(\\.[0-9]+)?")
                        ? value : new ObjectMapper().writeValueAsString(value);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            checkSchema(schema, json, parameter.path("in").asText() + " parameter " + name, problems);
        }
    }

    /** A JSON body (application/json, *+json) against the schema of its media type. */
    private void checkJsonBody(String contentType, String body, JsonNode declared, String where,
            List<String> problems) {
        if (contentType == null || body.isEmpty()) {
            return;
        }
        String mediaType = contentType.split(";")[0].trim().toLowerCase(Locale.ROOT);
        if (!mediaType.equals("application/json") && !mediaType.endsWith("+json")) {
            return;
        }
        JsonNode schema = declared.path("content").path(mediaType).path("schema");
        if (schema.isMissingNode()) {
            problems.add(where + ": the document has no schema for " + mediaType);
            return;
        }
        checkSchema(schema, body, where, problems);
    }

    private void checkHeaders(Response response, JsonNode declared, List<String> problems) {
        Set<String> allowed = new TreeSet<>(TRANSPORT_HEADERS);
        declared.path("headers").fieldNames().forEachRemaining(h -> allowed.add(h.toLowerCase(Locale.ROOT)));
        response.headers().forEach(header -> {
            if (!allowed.contains(header.getName().toLowerCase(Locale.ROOT))) {
                problems.add("header " + header.getName() + " is not declared for status " + response.statusCode()
                        + " (declared: " + allowed + ")");
            }
        });
    }

    /** Every NDJSON line and SSE event's data must be a StreamItem, events named after their type. */
    private void checkStreamItems(Response response, List<String> problems) {
        String contentType = response.contentType() == null ? "" : response.contentType();
        JsonNode itemSchema = itemSchema();
        if (contentType.startsWith("application/x-ndjson")) {
            String[] lines = response.asString().split("\n");
            for (int i = 0; i < lines.length; i++) {
                if (!lines[i].isEmpty()) {
                    checkSchema(itemSchema, lines[i], "NDJSON line " + (i + 1), problems);
                }
            }
        } else if (contentType.startsWith("text/event-stream")) {
            for (String block : response.asString().split("\n\n")) {
                Map<String, String> fields = new HashMap<>();
                for (String line : block.split("\n")) {
                    if (line.isEmpty() || line.startsWith(":")) {
                        continue;
                    }
                    int colon = line.indexOf(':');
                    String key = colon < 0 ? line : line.substring(0, colon);
                    String value = colon < 0 ? "" : line.substring(colon + 1).replaceFirst("^ ", "");
                    if (fields.put(key, value) != null) {
                        problems.add("SSE event with two '" + key + "' lines: " + block);
                    }
                }
                if (fields.isEmpty()) {
                    continue;
                }
                String data = fields.get("data");
                if (data == null) {
                    problems.add("SSE event without data: " + block);
                    continue;
                }
                checkSchema(itemSchema, data, "SSE event " + fields.get("event"), problems);
                try {
                    JsonNode item = new ObjectMapper().readTree(data);
                    if (!item.path("type").asText().equals(fields.get("event"))) {
                        problems.add("SSE event name " + fields.get("event") + " is not its data's type: " + block);
                    }
                    String id = fields.get("id");
                    if (item.has("seq") ? !item.get("seq").asText().equals(id) : id != null) {
                        problems.add("SSE id is not the item's seq: " + block);
                    }
                } catch (IOException e) {
                    problems.add("SSE data is not JSON: " + block);
                }
            }
        }
    }

    private JsonNode itemSchema() {
        return document.at("/paths/~1services~1{name}/post/responses/200/content/application~1x-ndjson/schema")
                .path("x-item-schema");
    }

    /** Validates a JSON text against a schema of the document (its $refs relative to the document). */
    void checkSchema(JsonNode schemaNode, String json, String where, List<String> problems) {
        if (schemaNode.isMissingNode()) {
            problems.add(where + ": no schema in the document");
            return;
        }
        try {
            ObjectMapper mapper = new ObjectMapper();
            JsonNode absolute = mapper.readTree(mapper.writeValueAsString(schemaNode)
                    .replace("\"$ref\":\"#/", "\"$ref\":\"" + BASE + "#/"));
            List<Error> errors = schemas.getSchema(SchemaLocation.of("https://mdp-gateway.invalid/check.json"), absolute)
                    .validate(mapper.readTree(json));
            if (!errors.isEmpty()) {
                problems.add(where + ": " + errors + " in " + abbreviate(json));
            }
        } catch (IOException e) {
            problems.add(where + " is not JSON: " + abbreviate(json));
        }
    }

    private JsonNode resolve(JsonNode node) {
        JsonNode ref = node.get("$ref");
        return ref == null ? node : resolve(document.at(ref.asText().substring(1)));
    }

    private static Request request(FilterableRequestSpecification spec) {
        return RestAssuredRequest.of(spec);
    }

    private static com.atlassian.oai.validator.model.Response response(Response response) {
        return RestAssuredResponse.of(response);
    }

    private static String abbreviate(String s) {
        return s.length() > 600 ? s.substring(0, 600) + "..." : s;
    }

    /** Every "METHOD /path" the document lists. */
    Set<String> operations() {
        Set<String> operations = new TreeSet<>();
        Iterator<Map.Entry<String, JsonNode>> it = document.path("paths").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> path = it.next();
            for (String method : List.of("get", "put", "post", "delete", "options", "head", "patch", "trace")) {
                if (path.getValue().has(method)) {
                    operations.add(method.toUpperCase(Locale.ROOT) + " " + path.getKey());
                }
            }
        }
        return operations;
    }
}
