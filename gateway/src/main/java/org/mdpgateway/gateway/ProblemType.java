package org.mdpgateway.gateway;

import org.mdpgateway.broker.RequestFailure;

/**
 * Every kind of problem the gateway reports: its HTTP status, the slug of its type
 * ({@code urn:mdp-gateway:problem:<slug>}), its title, and whether the client is told when to try
 * again ({@code Retry-After} and {@code retryAfterSeconds}). The OpenAPI document lists the same
 * slugs; {@code ProblemTypeTest} fails when the two disagree.
 */
enum ProblemType {
    BAD_REQUEST(400, "bad-request", "Bad request", false),
    BAD_TIMEOUT(400, "bad-timeout", "Bad timeout", false),
    BAD_FRAMES(400, "bad-frames", "Malformed frames envelope", false),
    BAD_SERVICE_NAME(400, "bad-service-name", "Bad service name", false),
    UNAUTHORIZED(401, "unauthorized", "Unauthorized", false),
    FORBIDDEN(403, "forbidden", "Forbidden", false),
    NOT_FOUND(404, "not-found", "Not found", false),
    NO_SUCH_SERVICE(404, "no-such-service", "No worker for this service", false),
    METHOD_NOT_ALLOWED(405, "method-not-allowed", "Method not allowed", false),
    BODY_TOO_LARGE(413, "body-too-large", "Request body too large", false),
    URI_TOO_LONG(414, "uri-too-long", "URI too long", false),
    HEADERS_TOO_LARGE(431, "headers-too-large", "Request headers too large", false),
    INTERNAL(500, "internal", "Internal error", false),
    MMI_NOT_IMPLEMENTED(501, "mmi-not-implemented", "Not implemented", false),
    WORKER_LOST(502, "worker-lost", "Worker lost", false),
    REPLY_TOO_LARGE(502, "reply-too-large", "Reply too large to collect", false),
    NO_WORKER(503, "no-worker", "No worker available", true),
    QUEUE_FULL(503, "queue-full", "Service queue full", true),
    SLOW_READER(503, "slow-reader", "Reader too slow", true),
    SHUTTING_DOWN(503, "shutting-down", "Gateway shutting down", true),
    NOT_READY(503, "not-ready", "Not ready", true),
    DEADLINE(504, "deadline", "Worker did not answer in time", false);

    /** The wait a retry hint asks for. */
    static final int RETRY_AFTER_SECONDS = 1;

    final int status;
    final String slug;
    final String title;
    /** Whether the client may try again later, and is told when. */
    final boolean retryHint;

    ProblemType(int status, String slug, String title, boolean retryHint) {
        this.status = status;
        this.slug = slug;
        this.title = title;
        this.retryHint = retryHint;
    }

    /** The problem a failed request is: the one place the broker's reasons become HTTP. */
    static ProblemType of(RequestFailure.Reason reason) {
        return switch (reason) {
            case REFUSED -> QUEUE_FULL;
            case EXPIRED -> NO_WORKER;
            case DEADLINE -> DEADLINE;
            case WORKER_LOST -> WORKER_LOST;
            // Only a network client's collected reply fails so; were one to reach here, the upstream failed.
            case REPLY_TOO_LARGE -> WORKER_LOST;
            case BROKER_STOPPED -> SHUTTING_DOWN;
        };
    }

    Problem problem(String detail, String instance, String service) {
        return Problem.of(this, detail, instance, service);
    }
}
