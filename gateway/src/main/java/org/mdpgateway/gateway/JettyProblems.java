package org.mdpgateway.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.UUID;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * The errors Jetty answers by itself, outside our routes, as problem+json like every other error
 * instead of its HTML page: a request that arrives on an open connection while the server stops
 * (503), and requests Jetty cannot parse (a bad request line, headers too large). Installed on the
 * server; stateless, so any Jetty thread may call it.
 */
final class JettyProblems extends ErrorHandler {
    private final ObjectMapper mapper;

    JettyProblems(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
            Callback callback) {
        String requestId = HttpApi.requestIdFrom(request.getHeaders().get(HttpApi.REQUEST_ID));
        Problem problem = problemFor(code, message, requestId);
        byte[] body = bytes(problem);
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(HttpHeader.CONTENT_TYPE, Problem.MEDIA_TYPE);
        headers.put(HttpHeader.CONTENT_LENGTH, body.length);
        headers.put(HttpApi.REQUEST_ID, requestId);
        if (problem.extensions().containsKey("retryAfterSeconds")) {
            headers.put(HttpHeader.RETRY_AFTER, problem.extensions().get("retryAfterSeconds").toString());
        }
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** A request the HTTP parser refused, answered before any request exists. */
    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        Problem problem = problemFor(status, reason, UUID.randomUUID().toString());
        fields.put(HttpHeader.CONTENT_TYPE, Problem.MEDIA_TYPE);
        return ByteBuffer.wrap(bytes(problem));
    }

    private static Problem problemFor(int code, String message, String requestId) {
        String detail = message == null || message.isBlank() ? "HTTP " + code : message;
        return switch (code) {
            case 503 -> Problem.of(503, "shutting-down", "Gateway shutting down",
                    "the gateway is stopping; try again shortly", requestId, null).with("retryAfterSeconds", 1);
            case 400 -> Problem.of(400, "bad-request", "Bad request", detail, requestId, null);
            case 413 -> Problem.of(413, "body-too-large", "Request too large", detail, requestId, null);
            case 414 -> Problem.of(414, "uri-too-long", "URI too long", detail, requestId, null);
            case 431 -> Problem.of(431, "headers-too-large", "Request headers too large", detail, requestId, null);
            default -> Problem.of(code, "http-" + code, "HTTP " + code, detail, requestId, null);
        };
    }

    private byte[] bytes(Problem problem) {
        try {
            return mapper.writeValueAsBytes(problem.toJson(mapper));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
