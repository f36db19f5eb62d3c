package org.mdpgateway.gateway;

import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.Body;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.plugin.bundled.CorsPlugin;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.mdpgateway.broker.ReplyHandler;
import org.mdpgateway.broker.RequestBroker;
import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.broker.ServiceStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API: every route, how its input is checked, and how each error becomes problem+json.
 * Handlers never wait for a worker: they hand the request to the broker and return.
 */
final class HttpApi {
    private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
    private static final Logger accessLog = LoggerFactory.getLogger("mdp-gateway.access");
    static final String REQUEST_ID = "X-Request-Id";
    static final String FRAMES_JSON = "application/vnd.mdp.frames+json";
    private static final String REQUEST_ID_ATTRIBUTE = "mdpgw.requestId";
    private static final int MAX_REQUEST_ID_LENGTH = 200;

    private final RequestBroker broker;
    private final GatewayConfig config;
    private final GatewayMetrics metrics;
    private final ObjectMapper mapper;
    private final ExecutorService writers;
    /**
     * Where the answers to {@code GET /services}, {@code /services/<name>} and {@code /metrics} are
     * written once the broker has answered: the HTTP server's own threads, because Javalin writes a
     * result with blocking writes, and a client that does not read must not hold a writer thread
     * that every reply needs.
     */
    private final Executor responders;
    /** True once the gateway has begun to stop: readiness answers 503. */
    private final BooleanSupplier stopping;
    /** True once the gateway's ports are closed (after its drain delay): every response closes its connection. */
    private final BooleanSupplier closingConnections;
    /** True once the gateway takes no new requests (after its drain grace): they get 503 shutting-down. */
    private final BooleanSupplier refusing;
    private final HttpAuth auth;
    private final Set<ReplyStream> openReplies = ConcurrentHashMap.newKeySet();
    /**
     * POST requests from the moment their handler starts (before the drain check, so one still
     * uploading its body is counted) until their reply ends or the handler throws.
     */
    private final AtomicInteger openPosts = new AtomicInteger();
    private final Dashboard dashboard;

    HttpApi(RequestBroker broker, GatewayConfig config, GatewayMetrics metrics, ObjectMapper mapper, ExecutorService writers,
            Executor responders, BooleanSupplier stopping, BooleanSupplier closingConnections,
            BooleanSupplier refusing) {
        this.broker = broker;
        this.config = config;
        this.metrics = metrics;
        this.mapper = mapper;
        this.writers = writers;
        this.responders = responders;
        this.stopping = stopping;
        this.closingConnections = closingConnections;
        this.refusing = refusing;
        this.auth = new HttpAuth(config.access());
        this.dashboard = new Dashboard(broker, mapper, writers, auth, config.broker().heartbeatInterval(),
                config.dashboardPeriod());
    }

    void register(JavalinConfig javalin) {
        javalin.http.maxRequestSize = config.maxBodyBytes();
        javalin.http.asyncTimeout = 0; // our own deadlines answer 503/504; Javalin's would answer 500
        javalin.http.prefer405over404 = true;
        if (!config.corsOrigins().isEmpty()) {
            javalin.registerPlugin(new CorsPlugin(cors -> cors.addRule(rule -> {
                config.corsOrigins().forEach(rule::allowHost);
                // Preflights echo the requested method and headers (any Content-Type, Request-Timeout).
                rule.exposeHeader(REQUEST_ID);
                rule.exposeHeader("Retry-After");
                rule.maxAge = 600;
            })));
        }
        javalin.routes.before(this::assignRequestId);
        auth.register(javalin);
        javalin.routes.post("/services/<name>", this::postService);
        javalin.routes.get("/services/<name>", this::getService);
        javalin.routes.head("/services/<name>", this::getService);
        javalin.routes.get("/services", this::listServices);
        // "/services/" with no name: a request to the empty service name, which is invalid.
        javalin.routes.post("/services", ctx -> {
            throw new ProblemException(ProblemType.BAD_SERVICE_NAME.problem("service name is empty", requestId(ctx),
                    null));
        });
        javalin.routes.get("/health/live", ctx -> json(ctx, 200, mapper.createObjectNode().put("status", "up")));
        javalin.routes.get("/health/ready", this::ready);
        javalin.routes.get("/metrics", this::metrics);
        new DocsRoutes(mapper).register(javalin);
        dashboard.register(javalin);
        javalin.routes.exception(ProblemException.class, (e, ctx) -> problem(ctx, e.problem));
        javalin.routes.exception(HttpResponseException.class, this::httpResponseException);
        javalin.routes.exception(Exception.class, this::unexpected);
        javalin.routes.error(404, ctx -> {
            if (!ctx.res().isCommitted() && !Problem.MEDIA_TYPE.equals(ctx.res().getContentType())) {
                problem(ctx, ProblemType.NOT_FOUND.problem("no route for " + ctx.method() + " " + ctx.path(),
                        requestId(ctx), null));
            }
        });
        javalin.routes.error(405, ctx -> {
            // RFC 9110: a 405 lists the methods the resource has.
            ctx.header("Allow", ctx.path().startsWith("/services/") ? "GET, HEAD, POST"
                    : ctx.path().equals("/services") ? "GET, POST" : "GET");
            problem(ctx, ProblemType.METHOD_NOT_ALLOWED.problem(ctx.method() + " is not allowed on " + ctx.path(),
                    requestId(ctx), null));
        });
        if (accessLog.isInfoEnabled()) { // costs a timer and a write per request, so only when asked for
            javalin.requestLogger.http((ctx, ms) -> accessLog.info("{} {} {} {} {} ms", requestId(ctx), ctx.method(),
                    ctx.path(), ctx.res().getStatus(), Math.round(ms)));
        }
    }

    /** The dashboard's feed, which the shutdown sequence ends. */
    Dashboard dashboard() {
        return dashboard;
    }

    /** Open replies, for pings and for the shutdown sequence. */
    Set<ReplyStream> openReplies() {
        return openReplies;
    }

    /** POST requests begun and not yet ended, those still reading their body too: what a drain waits for. */
    int openPosts() {
        return openPosts.get();
    }

    // ---- request ids -----------------------------------------------------------------------------

    private void assignRequestId(Context ctx) {
        String id = requestIdFrom(ctx.header(REQUEST_ID));
        ctx.attribute(REQUEST_ID_ATTRIBUTE, id);
        ctx.header(REQUEST_ID, id);
        if (closingConnections.getAsBoolean()) {
            // Jetty says so too once its connector is shut down, but only a moment after the listener
            // closed; from the moment the ports close, no connection is kept for another request.
            ctx.header("Connection", "close");
        }
    }

    /** The caller's request id if it is a sensible one, else a new one. */
    static String requestIdFrom(String header) {
        return header == null || header.isEmpty() || header.length() > MAX_REQUEST_ID_LENGTH || !isVisibleAscii(header)
                ? UUID.randomUUID().toString() : header;
    }

    private static boolean isVisibleAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    static String requestId(Context ctx) {
        try {
            String id = ctx.attribute(REQUEST_ID_ATTRIBUTE);
            return id != null ? id : "unknown";
        } catch (RuntimeException e) {
            return "unknown"; // the request has ended and its attributes are gone
        }
    }

    // ---- POST /services/{name} -------------------------------------------------------------------

    private void postService(Context ctx) {
        openPosts.incrementAndGet();
        boolean handedOver = false;
        try {
            handedOver = postService(ctx, requestId(ctx));
        } finally {
            if (!handedOver) {
                openPosts.decrementAndGet();
            }
        }
    }

    /** True once the reply owns the request, and ending it ends the count of {@link #openPosts}. */
    private boolean postService(Context ctx, String requestId) {
        String service = serviceName(ctx);
        auth.authorize(ctx, service);
        if (refusing.getAsBoolean()) {
            throw new ProblemException(ProblemType.SHUTTING_DOWN.problem(
                    "the gateway is stopping and takes no new requests", requestId, service));
        }
        Duration timeout = timeout(ctx, service);
        Body body = requestBody(ctx, service);
        ReplyFormat format = ReplyFormat.forAccept(ctx.header("Accept"));
        if (format.isStreaming()) {
            ctx.disableCompression();
        }
        ReplyStream reply = new ReplyStream(ctx, format, service, requestId, mapper, writers,
                config.maxBufferedParts(), config.maxBufferedReplyBytes(), metrics);
        metrics.started(format);
        openReplies.add(reply);
        reply.done.whenComplete((ok, failure) -> {
            openReplies.remove(reply);
            metrics.ended(format);
            openPosts.decrementAndGet();
        });
        ctx.future(() -> {
            // Submitted only now that the request is asynchronous, so the writer may use the response.
            reply.startWriting();
            reply.attach(broker.submit(service, body, timeout, reply));
            return reply.done;
        });
        return true;
    }

    private String serviceName(Context ctx) {
        String service = ctx.pathParam("name");
        String problem = MdpProtocol.serviceNameProblem(service);
        if (problem != null) {
            throw new ProblemException(ProblemType.BAD_SERVICE_NAME.problem(problem, requestId(ctx), null));
        }
        return service;
    }

    /** {@code ?timeout=} or {@code Request-Timeout:} in milliseconds, clamped to the maximum. */
    private Duration timeout(Context ctx, String service) {
        String value = ctx.queryParam("timeout");
        String source = "timeout query parameter";
        if (value == null) {
            value = ctx.header("Request-Timeout");
            source = "Request-Timeout header";
        }
        if (value == null) {
            return config.requestTimeout();
        }
        long millis;
        try {
            millis = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            millis = -1;
        }
        if (millis <= 0) {
            throw new ProblemException(ProblemType.BAD_TIMEOUT.problem(
                    "the " + source + " must be a positive whole number of milliseconds, got '" + value + "'",
                    requestId(ctx), service));
        }
        Duration asked = Duration.ofMillis(millis);
        return asked.compareTo(config.maxRequestTimeout()) > 0 ? config.maxRequestTimeout() : asked;
    }

    private Body requestBody(Context ctx, String service) {
        byte[] bytes = ctx.bodyAsBytes();
        String contentType = ctx.header("Content-Type");
        if (contentType != null && contentType.toLowerCase(Locale.ROOT).startsWith(FRAMES_JSON)) {
            try {
                return FrameJson.readEnvelope(mapper.readTree(bytes));
            } catch (JsonProcessingException e) {
                throw badEnvelope(ctx, service, "the body is not valid JSON: " + e.getOriginalMessage());
            } catch (IOException | IllegalArgumentException e) {
                throw badEnvelope(ctx, service, e.getMessage());
            }
        }
        return Body.adopt(bytes);
    }

    private static ProblemException badEnvelope(Context ctx, String service, String detail) {
        return new ProblemException(ProblemType.BAD_FRAMES.problem(detail, requestId(ctx), service));
    }

    // ---- GET/HEAD /services/{name}: the MMI check ----------------------------------------------

    private void getService(Context ctx) {
        String requestId = requestId(ctx);
        String service = serviceName(ctx);
        auth.authorize(ctx, service);
        boolean mmiName = MdpProtocol.isMmiService(service);
        // 8/MMI: ask mmi.service about a service; for an mmi. name ask that service itself, which
        // answers 501 when the broker does not implement it.
        String ask = mmiName ? service : MdpProtocol.MMI_SERVICE;
        CompletableFuture<String> code = new CompletableFuture<>();
        ctx.future(() -> {
            broker.submit(ask, Body.ofStrings(service), config.requestTimeout(), new ReplyHandler() {
                @Override
                public void onPartial(Body partial) {
                }

                @Override
                public void onFinal(Body reply) {
                    code.complete(reply.lastString());
                }

                @Override
                public void onFailure(RequestFailure failure) {
                    code.completeExceptionally(new ProblemException(
                            ProblemType.SHUTTING_DOWN.problem(failure.detail(), requestId, service)));
                }
            });
            return code.handleAsync((status, failure) -> {
                if (failure != null) {
                    throw failure instanceof ProblemException p ? p : new IllegalStateException(failure);
                }
                respondToMmi(ctx, service, mmiName, status);
                return null;
            }, responders);
        });
    }

    private void respondToMmi(Context ctx, String service, boolean mmiName, String status) {
        String requestId = requestId(ctx);
        if (mmiName) {
            if (MdpProtocol.MmiStatus.NOT_IMPLEMENTED.code().equals(status)) {
                problem(ctx, ProblemType.MMI_NOT_IMPLEMENTED.problem(
                        "the broker does not implement '" + service + "'", requestId, service));
            } else {
                // The broker answered the request itself, so it implements the service: that is what
                // "available" means for an mmi. name, and its mmi code says the same.
                json(ctx, 200, mapper.createObjectNode().put("service", service).put("available", true)
                        .put("mmi", MdpProtocol.MmiStatus.FOUND.code()));
            }
        } else if (MdpProtocol.MmiStatus.FOUND.code().equals(status)) {
            json(ctx, 200, mapper.createObjectNode().put("service", service).put("available", true).put("mmi", status));
        } else {
            problem(ctx, ProblemType.NO_SUCH_SERVICE.problem(
                    "no worker is registered for '" + service + "'", requestId, service)
                    .with("available", false).with("mmi", status));
        }
    }

    // ---- GET /services, health, metrics --------------------------------------------------------

    private void listServices(Context ctx) {
        ServiceScope scope = auth.scope(ctx);
        ctx.future(() -> broker.stats().thenAcceptAsync(stats -> {
            ObjectNode root = mapper.createObjectNode();
            ArrayNode services = root.putArray("services");
            for (ServiceStats s : stats) {
                if (!scope.covers(s.service())) {
                    continue; // a caller sees only the services its credential covers
                }
                ObjectNode node = services.addObject();
                putServiceCounters(node, s);
                ObjectNode requests = node.putObject("requestsByClient");
                s.requestsByClient().forEach(requests::put);
                ObjectNode dropped = node.putObject("dropped");
                s.droppedByReason().forEach(dropped::put);
            }
            json(ctx, 200, root);
        }, responders));
    }

    /** A service's name, workers and broker counters, as {@code GET /services} and the dashboard show them. */
    static void putServiceCounters(ObjectNode node, ServiceStats s) {
        node.put("name", s.service());
        ObjectNode workers = node.putObject("workers").put("idle", s.idleWorkers()).put("busy", s.busyWorkers());
        ObjectNode byDialect = workers.putObject("byDialect");
        s.workersByDialect().forEach((dialect, counts) -> byDialect.putObject(dialect.label())
                .put("idle", counts.idle()).put("busy", counts.busy()));
        node.put("queued", s.queued());
        node.put("inFlight", s.inFlight());
        node.put("served", s.served());
        node.put("failed", s.failed());
        node.put("resent", s.resent());
        node.put("expired", s.expired());
        node.put("refused", s.refused());
        node.put("denied", s.denied());
    }

    private void ready(Context ctx) {
        if (stopping.getAsBoolean() || !broker.isRunning()) {
            problem(ctx, ProblemType.NOT_READY.problem(
                    stopping.getAsBoolean() ? "the gateway is shutting down" : "the broker is not running",
                    requestId(ctx), null));
            return;
        }
        ObjectNode body = mapper.createObjectNode().put("status", "ready");
        ArrayNode endpoints = body.putArray("brokerEndpoints");
        broker.boundEndpoints().stream().filter(e -> !e.startsWith("inproc://")).forEach(endpoints::add);
        json(ctx, 200, body);
    }

    private void metrics(Context ctx) {
        long askedAt = System.nanoTime();
        ctx.future(() -> broker.stats().thenAcceptAsync(stats -> {
            ctx.status(200);
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
            ctx.result(metrics.render(stats, askedAt));
        }, responders));
    }

    // ---- writing -------------------------------------------------------------------------------

    private void json(Context ctx, int status, JsonNode body) {
        try {
            ctx.status(status);
            ctx.contentType("application/json");
            ctx.result(mapper.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void problem(Context ctx, Problem problem) {
        ctx.status(problem.status());
        problem.headers(ctx::header);
        ctx.result(problem.toBytes(mapper));
    }

    private void httpResponseException(HttpResponseException e, Context ctx) {
        String requestId = requestId(ctx);
        problem(ctx, switch (e.getStatus()) {
            case 413 -> ProblemType.BODY_TOO_LARGE.problem(
                    "the body is over the limit of " + config.maxBodyBytes() + " bytes", requestId, null);
            case 404 -> ProblemType.NOT_FOUND.problem("no route for " + ctx.method() + " " + ctx.path(), requestId, null);
            default -> Problem.unlisted(e.getStatus(), e.getMessage(), e.getMessage(), requestId);
        });
    }

    private void unexpected(Exception e, Context ctx) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof ReplyStream.StreamAbortedException || isEndedRequest(cause)) {
            // A raw stream cut off on purpose, or a request whose connection is already gone: the
            // server cannot tell its client anything more, and must not try.
            return;
        }
        try {
            if (cause instanceof ProblemException p) {
                problem(ctx, p.problem);
                return;
            }
            log.error("request {} failed unexpectedly", requestId(ctx), cause);
            if (!ctx.res().isCommitted()) {
                problem(ctx, ProblemType.INTERNAL.problem("the gateway failed; see its log for " + requestId(ctx),
                        requestId(ctx), null));
            }
        } catch (IllegalStateException gone) {
            log.debug("request ended before its error could be written: {}", gone.toString());
        }
    }

    /** Jetty recycles a request once its connection is aborted; touching it then throws this. */
    private static boolean isEndedRequest(Throwable t) {
        return t instanceof IllegalStateException && t.getMessage() != null && t.getMessage().contains("recycled");
    }

    /** Ends a handler with a problem response. */
    static final class ProblemException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Problem problem;

        ProblemException(Problem problem) {
            super(problem.detail(), null, false, false);
            this.problem = problem;
        }
    }
}
