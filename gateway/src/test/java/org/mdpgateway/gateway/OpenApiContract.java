package org.mdpgateway.gateway;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.report.LevelResolver;
import com.atlassian.oai.validator.report.SimpleValidationReportFormat;
import com.atlassian.oai.validator.report.ValidationReport;
import com.atlassian.oai.validator.model.SimpleRequest;
import com.atlassian.oai.validator.model.SimpleResponse;
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
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * The OpenAPI document as a test oracle: fails a test when a request or response is not what the
 * document describes. The checks run on a transport-neutral {@link Exchange}; REST Assured tests
 * use the filters, {@code java.net.http} tests {@link #check(HttpRequest, String, HttpResponse)} and
 * {@link #checkResponse}, streamed bodies {@link #checkStream} and {@link Stream#checkBody()}, and
 * hand-written HTTP/1.1 on a socket {@link #checkRawResponse}.
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

    /**
     * One HTTP exchange, whatever client made it: what the checks below look at.
     *
     * @param method the request method, upper case
     * @param path the request path as sent (percent-encoded), without the query
     * @param query the raw query string, or null
     * @param requestHeaders the headers the client set
     * @param requestBody the request body as text, or null when there was none
     * @param status the response status
     * @param responseHeaders the response headers
     * @param responseBody the response body as text ("" when none or not read yet)
     */
    record Exchange(String method, String path, String query, Map<String, List<String>> requestHeaders,
            String requestBody, int status, Map<String, List<String>> responseHeaders, String responseBody) {

        String requestHeader(String name) {
            return first(requestHeaders, name);
        }

        String responseHeader(String name) {
            return first(responseHeaders, name);
        }

        String contentType() {
            return responseHeader("Content-Type");
        }

        String requestContentType() {
            return requestHeader("Content-Type");
        }

        Exchange withResponseBody(String body) {
            return new Exchange(method, path, query, requestHeaders, requestBody, status, responseHeaders, body);
        }

        /** The query's parameters, decoded. */
        Map<String, List<String>> queryParameters() {
            Map<String, List<String>> parameters = new LinkedHashMap<>();
            if (query == null || query.isEmpty()) {
                return parameters;
            }
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                parameters.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            }
            return parameters;
        }

        private static String first(Map<String, List<String>> headers, String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }
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
            check(exchange(requestSpec, response), checkRequest);
            return response;
        };
    }

    private static Exchange exchange(FilterableRequestSpecification spec, Response response) {
        Map<String, List<String>> requestHeaders = new LinkedHashMap<>();
        spec.getHeaders().forEach(h -> requestHeaders.computeIfAbsent(h.getName(), k -> new ArrayList<>())
                .add(h.getValue()));
        if (spec.getContentType() != null && Exchange.first(requestHeaders, "Content-Type") == null) {
            requestHeaders.put("Content-Type", List.of(spec.getContentType()));
        }
        StringBuilder query = new StringBuilder();
        spec.getQueryParams().forEach((name, value) -> {
            if (query.length() > 0) {
                query.append('&');
            }
            query.append(URLEncoder.encode(name, StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8));
        });
        Object body = spec.getBody();
        String requestBody = body == null ? null
                : body instanceof byte[] bytes ? new String(bytes, StandardCharsets.ISO_8859_1) : body.toString();
        Map<String, List<String>> responseHeaders = new LinkedHashMap<>();
        response.headers().forEach(h -> responseHeaders.computeIfAbsent(h.getName(), k -> new ArrayList<>())
                .add(h.getValue()));
        return new Exchange(spec.getMethod().toUpperCase(Locale.ROOT), spec.getDerivedPath(),
                query.length() == 0 ? null : query.toString(), requestHeaders, requestBody, response.statusCode(),
                responseHeaders, response.asString());
    }

    // ---- java.net.http ---------------------------------------------------------------------------

    /** Fails unless both the request and the response match the document. */
    void check(HttpRequest request, String requestBody, HttpResponse<String> response) {
        check(exchange(request, requestBody, response, response.body()), true);
    }

    /** Fails unless the response matches the document; the request may break it on purpose. */
    void checkResponse(HttpRequest request, HttpResponse<String> response) {
        check(exchange(request, null, response, response.body()), false);
    }

    /**
     * A response whose body the test reads as a stream: checks the request, status, headers and
     * content type now; {@link Stream#checkBody()} checks the body the test has read, once it has.
     */
    Stream checkStream(HttpRequest request, String requestBody, HttpResponse<InputStream> response) {
        return stream(exchange(request, requestBody, response, ""), true, response.body(), false);
    }

    /** As {@link #checkStream}, for a request that breaks the document on purpose. */
    Stream checkResponseStream(HttpRequest request, HttpResponse<InputStream> response) {
        return stream(exchange(request, null, response, ""), false, response.body(), false);
    }

    private static Exchange exchange(HttpRequest request, String requestBody, HttpResponse<?> response,
            String responseBody) {
        URI uri = request.uri();
        return new Exchange(request.method(), uri.getRawPath(), uri.getRawQuery(), request.headers().map(),
                requestBody, response.statusCode(), response.headers().map(), responseBody);
    }

    // ---- a raw socket ----------------------------------------------------------------------------

    /**
     * Reads an HTTP/1.1 response's status line and headers from {@code in} (byte by byte, nothing
     * past them) and checks them with the request that was written by hand; the returned stream is
     * the rest of the response, its body checked by {@link Stream#checkBody()} (chunked framing
     * removed).
     */
    Stream checkRawResponse(String method, String target, Map<String, List<String>> requestHeaders,
            String requestBody, InputStream in) throws IOException {
        String statusLine = readLine(in);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new AssertionError("not an HTTP/1.x status line: " + statusLine);
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new AssertionError("not a header line: " + line);
            }
            headers.computeIfAbsent(line.substring(0, colon).trim(), k -> new ArrayList<>())
                    .add(line.substring(colon + 1).trim());
        }
        int q = target.indexOf('?');
        Exchange exchange = new Exchange(method, q < 0 ? target : target.substring(0, q),
                q < 0 ? null : target.substring(q + 1), requestHeaders, requestBody, Integer.parseInt(parts[1]),
                headers, "");
        Stream stream = stream(exchange, true, in, "chunked".equalsIgnoreCase(exchange.responseHeader(
                "Transfer-Encoding")));
        stream.statusLine = statusLine;
        return stream;
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new AssertionError("the response ended inside its head: " + line);
            }
            line.append((char) c);
        }
        int end = line.length();
        return end > 0 && line.charAt(end - 1) == '\r' ? line.substring(0, end - 1) : line.toString();
    }

    private Stream stream(Exchange head, boolean checkRequest, InputStream body, boolean chunked) {
        check(head, checkRequest, false);
        return new Stream(head, body, chunked);
    }

    /** A streamed response whose head has been checked; it records what the test reads. */
    final class Stream {
        private final Exchange head;
        private final ByteArrayOutputStream seen = new ByteArrayOutputStream();
        private final InputStream body;
        private final boolean chunked;
        private String statusLine;

        private Stream(Exchange head, InputStream in, boolean chunked) {
            this.head = head;
            this.chunked = chunked;
            this.body = new FilterInputStream(in) {
                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        record(new byte[] {(byte) b}, 0, 1);
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        record(b, off, n);
                    }
                    return n;
                }

                @Override
                public long skip(long n) throws IOException {
                    return super.read(new byte[(int) Math.min(n, 8192)], 0, (int) Math.min(n, 8192));
                }
            };
        }

        private void record(byte[] b, int off, int len) {
            synchronized (seen) {
                seen.write(b, off, len);
            }
        }

        /** The response body; read it through this, so that {@link #checkBody()} sees it. */
        InputStream body() {
            return body;
        }

        /** The status line, for a response read from a raw socket. */
        String statusLine() {
            return statusLine;
        }

        int status() {
            return head.status();
        }

        String header(String name) {
            return head.responseHeader(name);
        }

        /**
         * Checks the body read so far: a JSON body whole, NDJSON lines and SSE events that are
         * complete (a test may stop reading before the end of a stream).
         */
        void checkBody() {
            byte[] bytes;
            synchronized (seen) {
                bytes = seen.toByteArray();
            }
            if (chunked) {
                bytes = dechunk(bytes);
            }
            String text = new String(bytes, StandardCharsets.UTF_8);
            String contentType = head.contentType() == null ? "" : head.contentType();
            if (contentType.startsWith("application/x-ndjson")) {
                text = text.substring(0, text.lastIndexOf('\n') + 1);
            } else if (contentType.startsWith("text/event-stream")) {
                int end = text.lastIndexOf("\n\n");
                text = end < 0 ? "" : text.substring(0, end + 2);
            }
            check(head.withResponseBody(text), false, true);
        }
    }

    /** Removes chunked framing; a cut-off last chunk gives what arrived of it. */
    private static byte[] dechunk(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < bytes.length) {
            int eol = i;
            while (eol + 1 < bytes.length && !(bytes[eol] == '\r' && bytes[eol + 1] == '\n')) {
                eol++;
            }
            if (eol + 1 >= bytes.length) {
                break;
            }
            String size = new String(bytes, i, eol - i, StandardCharsets.US_ASCII).split(";")[0].trim();
            int n;
            try {
                n = Integer.parseInt(size, 16);
            } catch (NumberFormatException e) {
                throw new AssertionError("bad chunk size line: " + size);
            }
            if (n == 0) {
                break;
            }
            int start = eol + 2;
            int len = Math.min(n, bytes.length - start);
            out.write(bytes, start, len);
            i = start + n + 2;
        }
        return out.toByteArray();
    }

    // ---- the checks, on any exchange ------------------------------------------------------------

    /** Fails unless the exchange matches the document (its request too, if {@code checkRequest}). */
    void check(Exchange exchange, boolean checkRequest) {
        check(exchange, checkRequest, true);
    }

    private void check(Exchange exchange, boolean checkRequest, boolean checkBody) {
        List<String> problems = new ArrayList<>();
        String path = normalize(exchange.path());
        String method = exchange.method().toLowerCase(Locale.ROOT);
        String template = template(path);
        if (template == null) {
            if (method.equals("options") && exchange.status() == 200) {
                checkHeaders(exchange, document.path("components").path("responses").path("CorsPreflight"),
                        problems);
            } else {
                expectComponentResponse(exchange, "NotFound", 404, problems, checkBody);
            }
        } else if (!document.path("paths").path(template).has(method)) {
            expectComponentResponse(exchange, "MethodNotAllowed", 405, problems, checkBody);
        } else {
            com.atlassian.oai.validator.model.Response response = response(exchange);
            ValidationReport report = checkRequest
                    ? validator.validate(request(exchange, path), response)
                    : validator.validateResponse(path, Request.Method.valueOf(method.toUpperCase(Locale.ROOT)),
                            response);
            if (!checkBody) {
                // Only the head has arrived: the body is checked when the test has read it.
                report = ValidationReport.from(report.getMessages().stream()
                        .filter(m -> !m.getKey().equals("validation.response.body.missing")).toList());
            }
            if (report.hasErrors()) {
                problems.add(SimpleValidationReportFormat.getInstance().apply(report));
            }
            JsonNode operation = document.path("paths").path(template).path(method);
            JsonNode declared = resolve(operation.path("responses").path(Integer.toString(exchange.status())));
            checkHeaders(exchange, declared, problems);
            if (checkBody) {
                checkJsonBody(exchange.contentType(), exchange.responseBody(), declared, "response body", problems);
                checkStreamItems(exchange, declared, problems);
            }
            if (checkRequest) {
                checkParameters(exchange, document.path("paths").path(template).path("parameters"), problems);
                checkParameters(exchange, operation.path("parameters"), problems);
                if (exchange.requestBody() != null) {
                    checkJsonBody(exchange.requestContentType(), exchange.requestBody(),
                            resolve(operation.path("requestBody")), "request body", problems);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new AssertionError(exchange.method() + " " + exchange.path()
                    + (exchange.query() == null ? "" : "?" + exchange.query()) + " -> " + exchange.status() + " "
                    + exchange.contentType() + " does not match the OpenAPI document:\n"
                    + String.join("\n", problems) + "\nbody: " + abbreviate(exchange.responseBody()));
        }
    }

    /** As the gateway routes it: a trailing slash is ignored ({@code POST /services/} is {@code /services}). */
    private static String normalize(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
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

    private void expectComponentResponse(Exchange exchange, String name, int status, List<String> problems,
            boolean checkBody) {
        if (exchange.status() != status) {
            problems.add("a route or method the document does not list must answer " + status + ", got "
                    + exchange.status());
            return;
        }
        JsonNode declared = document.path("components").path("responses").path(name);
        checkHeaders(exchange, declared, problems);
        declared.path("headers").fields().forEachRemaining(h -> {
            if (resolve(h.getValue()).path("required").asBoolean() && exchange.responseHeader(h.getKey()) == null) {
                problems.add("no " + h.getKey());
            }
        });
        String contentType = exchange.contentType() == null ? "" : exchange.contentType();
        if (!contentType.startsWith(Problem.MEDIA_TYPE)) {
            problems.add("content type " + contentType + ", not " + Problem.MEDIA_TYPE);
            return;
        }
        if (checkBody && !exchange.method().equals("HEAD")) {
            checkSchema(declared.path("content").path(Problem.MEDIA_TYPE).path("schema"), exchange.responseBody(),
                    "body", problems);
        }
    }

    /**
     * Query and header parameters against their schemas (the validator above reads OpenAPI 3.0
     * schemas and skips 3.1 ones such as {@code type: integer}).
     */
    private void checkParameters(Exchange exchange, JsonNode parameters, List<String> problems) {
        Map<String, List<String>> query = exchange.queryParameters();
        for (JsonNode p : parameters) {
            JsonNode parameter = resolve(p);
            String name = parameter.path("name").asText();
            String value;
            switch (parameter.path("in").asText()) {
                case "query":
                    value = query.containsKey(name) ? query.get(name).get(0) : null;
                    break;
                case "header":
                    value = exchange.requestHeader(name);
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
        if (contentType == null || body == null || body.isEmpty()) {
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

    private void checkHeaders(Exchange exchange, JsonNode declared, List<String> problems) {
        Set<String> allowed = new TreeSet<>(TRANSPORT_HEADERS);
        declared.path("headers").fieldNames().forEachRemaining(h -> allowed.add(h.toLowerCase(Locale.ROOT)));
        exchange.responseHeaders().keySet().forEach(header -> {
            if (!header.startsWith(":") && !allowed.contains(header.toLowerCase(Locale.ROOT))) {
                problems.add("header " + header + " is not declared for status " + exchange.status()
                        + " (declared: " + allowed + ")");
            }
        });
    }

    /** Every NDJSON line and SSE event's data must be a StreamItem, events named after their type. */
    private void checkStreamItems(Exchange exchange, JsonNode declared, List<String> problems) {
        String contentType = exchange.contentType() == null ? "" : exchange.contentType();
        // The operation's own item schema (the dashboard's snapshots), else that of a service's reply.
        JsonNode own = declared.path("content").path("text/event-stream").path("schema").path("x-item-schema");
        JsonNode itemSchema = contentType.startsWith("text/event-stream") && !own.isMissingNode() ? own : itemSchema();
        if (contentType.startsWith("application/x-ndjson")) {
            String[] lines = exchange.responseBody().split("\n");
            for (int i = 0; i < lines.length; i++) {
                if (!lines[i].isEmpty()) {
                    checkSchema(itemSchema, lines[i], "NDJSON line " + (i + 1), problems);
                }
            }
        } else if (contentType.startsWith("text/event-stream")) {
            for (String block : exchange.responseBody().split("\n\n")) {
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
                if (fields.isEmpty() || fields.keySet().equals(Set.of("retry"))) {
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
                    if (item.has("type") && !item.path("type").asText().equals(fields.get("event"))) {
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

    private static Request request(Exchange exchange, String path) {
        SimpleRequest.Builder builder = new SimpleRequest.Builder(exchange.method(), path);
        exchange.requestHeaders().forEach(builder::withHeader);
        exchange.queryParameters().forEach(builder::withQueryParam);
        if (exchange.requestBody() != null) {
            builder.withBody(exchange.requestBody());
        }
        return builder.build();
    }

    private static com.atlassian.oai.validator.model.Response response(Exchange exchange) {
        SimpleResponse.Builder builder = new SimpleResponse.Builder(exchange.status());
        exchange.responseHeaders().forEach((name, values) -> {
            if (!name.startsWith(":")) {
                builder.withHeader(name, values);
            }
        });
        if (exchange.responseBody() != null && !exchange.responseBody().isEmpty()) {
            builder.withBody(exchange.responseBody());
        }
        return builder.build();
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 600 ? s.substring(0, 600) + "..." : s;
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
