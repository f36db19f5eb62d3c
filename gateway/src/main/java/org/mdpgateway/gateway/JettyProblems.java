package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
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
        byte[] body = problem.toBytes(mapper);
        HttpFields.Mutable headers = response.getHeaders();
        problem.headers(headers::put);
        headers.put(HttpHeader.CONTENT_LENGTH, body.length);
        headers.put(HttpApi.REQUEST_ID, requestId);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** A request the HTTP parser refused, answered before any request exists. */
    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        Problem problem = problemFor(status, reason, UUID.randomUUID().toString());
        problem.headers(fields::put);
        return ByteBuffer.wrap(problem.toBytes(mapper));
    }

    private static Problem problemFor(int code, String message, String requestId) {
        String detail = message == null || message.isBlank() ? "HTTP " + code : message;
        return switch (code) {
            case 503 -> ProblemType.SHUTTING_DOWN.problem(ReplyStream.SHUTTING_DOWN_DETAIL, requestId, null);
            case 400 -> ProblemType.BAD_REQUEST.problem(detail, requestId, null);
            case 413 -> ProblemType.BODY_TOO_LARGE.problem(detail, requestId, null);
            case 414 -> ProblemType.URI_TOO_LONG.problem(detail, requestId, null);
            case 431 -> ProblemType.HEADERS_TOO_LARGE.problem(detail, requestId, null);
            default -> Problem.unlisted(code, "HTTP " + code, detail, requestId);
        };
    }
}
