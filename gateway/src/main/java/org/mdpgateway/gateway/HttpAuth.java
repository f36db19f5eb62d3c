package org.mdpgateway.gateway;

import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.router.Endpoint;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Who is calling, and whether they may: reads the credential of a request (RFC 6750 §2.1
 * {@code Authorization: Bearer <token>}, or {@code X-Api-Key: <key>}), answers 401 when it is
 * missing or bad and 403 when it does not cover the service asked for.
 *
 * <p>Stateless past its {@link AccessPolicy}: it runs on the Jetty thread of each request, and keeps
 * what it learned about a request (its {@link ServiceScope}) in that request's attributes. Neither the
 * credential nor its hash is ever logged or echoed; problems name the request id only.
 */
final class HttpAuth {
    static final String API_KEY_HEADER = "X-Api-Key";
    /** RFC 6750 §3: the challenge of every 401 from a protected route. */
    static final String CHALLENGE = "Bearer realm=\"mdp-gateway\"";
    private static final String SCOPE_ATTRIBUTE = "mdpgw.scope";
    /** Routes a prober or load balancer must reach without a credential. */
    private static final Set<String> HEALTH_ROUTES = Set.of("/health/live", "/health/ready");
    /** A redirect to {@code /docs}; it tells nothing and needs nothing. */
    private static final String ROOT = "/";
    private static final Set<String> DOCS_ROUTES = Set.of("/docs", "/docs/{asset}", "/openapi.yaml", "/openapi.json");
    private static final String METRICS_ROUTE = "/metrics";
    /**
     * The dashboard's page is static code and tells nothing: it is open, so that a browser can load it
     * and then read {@link Dashboard#EVENTS_ROUTE}, which holds the data and is protected as
     * {@code /metrics} is, with a key the user enters.
     */
    private static final String DASHBOARD_PAGE = Dashboard.PAGE_ROUTE;

    private final AccessPolicy policy;

    HttpAuth(AccessPolicy policy) {
        this.policy = policy;
    }

    /**
     * Checks credentials before the route's handler, after every {@code before} handler: the request
     * id is assigned by then, and the CORS headers are set, so a browser script can read the 401.
     */
    void register(JavalinConfig javalin) {
        if (policy.requiresCredentials()) {
            javalin.routes.beforeMatched(this::authenticate);
        }
    }

    private void authenticate(Context ctx) {
        if (ctx.method() == HandlerType.OPTIONS) {
            return; // a CORS preflight never carries credentials (Fetch standard, CORS-preflight request)
        }
        Endpoint matched = ctx.endpoints().matchedHttpEndpoint();
        if (matched != null && isOpen(matched.path)) {
            // An open route shows what it shows to anyone: a public dashboard stream lists every service.
            ctx.attribute(SCOPE_ATTRIBUTE, ServiceScope.EVERYTHING);
            return;
        }
        ctx.attribute(SCOPE_ATTRIBUTE, scopeOf(ctx));
    }

    /** Everything is protected that is not open by name: a route added later is safe by default. */
    private boolean isOpen(String route) {
        return HEALTH_ROUTES.contains(route) || ROOT.equals(route) || DASHBOARD_PAGE.equals(route)
                || policy.publicMetrics() && (METRICS_ROUTE.equals(route) || Dashboard.EVENTS_ROUTE.equals(route))
                || policy.publicDocs() && DOCS_ROUTES.contains(route);
    }

    private ServiceScope scopeOf(Context ctx) {
        String bearer = bearerToken(ctx.header("Authorization"));
        String apiKey = ctx.header(API_KEY_HEADER);
        if (bearer == null && apiKey == null) {
            // RFC 6750 §3.1: no error code when the request had no credential at all.
            throw unauthorized(ctx, CHALLENGE, "this route needs a credential: 'Authorization: Bearer <token>' or '"
                    + API_KEY_HEADER + ": <key>'");
        }
        try {
            return bearer != null ? checkBearer(bearer) : checkApiKey(apiKey);
        } catch (InvalidCredentialException e) {
            throw unauthorized(ctx, CHALLENGE + ", error=\"invalid_token\"", e.getMessage());
        }
    }

    /** The token of an {@code Authorization: Bearer} header (the scheme is case-insensitive, RFC 9110 §11.1), else null. */
    static String bearerToken(String authorization) {
        if (authorization == null) {
            return null;
        }
        String value = authorization.strip();
        int space = value.indexOf(' ');
        String scheme = space < 0 ? value : value.substring(0, space);
        if (!scheme.toLowerCase(Locale.ROOT).equals("bearer")) {
            return null;
        }
        return space < 0 ? "" : value.substring(space + 1).strip();
    }

    /** A JWT when JWTs are configured and the value has a JWT's shape; otherwise an API key. */
    private ServiceScope checkBearer(String token) throws InvalidCredentialException {
        if (token.isEmpty()) {
            throw new InvalidCredentialException("the Bearer token is empty");
        }
        if (policy.jwt() != null && JwtVerifier.looksLikeJwt(token)) {
            return policy.jwt().verify(token);
        }
        if (policy.apiKeys() == null) {
            throw new InvalidCredentialException("the token is not a well-formed JWT");
        }
        return checkApiKey(token);
    }

    private ServiceScope checkApiKey(String key) throws InvalidCredentialException {
        if (policy.apiKeys() == null) {
            throw new InvalidCredentialException("this gateway takes no API keys, only JWTs");
        }
        Optional<ServiceScope> scope = policy.apiKeys().lookup(key);
        if (scope.isEmpty()) {
            throw new InvalidCredentialException("unknown API key");
        }
        return scope.get();
    }

    private static HttpApi.ProblemException unauthorized(Context ctx, String challenge, String detail) {
        ctx.header("WWW-Authenticate", challenge);
        return new HttpApi.ProblemException(ProblemType.UNAUTHORIZED.problem(detail, HttpApi.requestId(ctx), null));
    }

    /**
     * Ends the request with 403 unless its credential covers {@code service}. RFC 6750 §3.1: a good token
     * without the scope gets 403 and {@code error="insufficient_scope"}.
     */
    void authorize(Context ctx, String service) {
        if (!scope(ctx).covers(service)) {
            ctx.header("WWW-Authenticate", CHALLENGE + ", error=\"insufficient_scope\"");
            throw new HttpApi.ProblemException(ProblemType.FORBIDDEN.problem(
                    "the credential does not cover the service '" + service + "'", HttpApi.requestId(ctx), service));
        }
    }

    /** The services the request's credential covers; read it on the request's own thread. */
    ServiceScope scope(Context ctx) {
        if (!policy.requiresCredentials()) {
            return ServiceScope.EVERYTHING;
        }
        ServiceScope scope = ctx.attribute(SCOPE_ATTRIBUTE);
        // Fail closed: a protected handler reached without a checked credential may use nothing.
        return scope != null ? scope : new ServiceScope(List.of());
    }
}
