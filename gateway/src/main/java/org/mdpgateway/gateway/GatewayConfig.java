package org.mdpgateway.gateway;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.mdpgateway.mdp.internal.Require;
import org.mdpgateway.broker.BrokerConfig;

/**
 * How the gateway runs, validated when built.
 *
 * @param broker the embedded broker's settings
 * @param httpHost the interface the HTTP server listens on
 * @param httpPort its port; 0 picks a free one
 * @param requestTimeout the deadline of a request that names none
 * @param maxRequestTimeout the longest deadline a request may ask for; longer ones are clamped
 * @param maxBodyBytes the largest request body accepted; larger ones get 413
 * @param corsOrigins origins allowed to call the API from a browser
 * @param demoWorkers whether to run the in-process demo services {@code echo} and {@code count}
 * @param pingInterval how often an open Server-Sent Events stream gets a {@code : ping} comment
 * @param maxBufferedParts how many reply parts one slow reader may have waiting before its stream
 *     ends with an error; also the most parts collected for one JSON reply
 * @param maxBufferedReplyBytes how many body bytes of reply parts one response may hold waiting for
 *     its client, or collected for one JSON reply; one part alone may be larger (it is bounded by
 *     the broker's largest message)
 * @param drainDelay how long a stopping gateway goes on serving everything normally, its readiness
 *     already 503, before it stops accepting connections: time for a load balancer or Kubernetes to
 *     take it out of rotation
 * @param drainGrace how long in-flight requests may take to finish when the gateway stops
 * @param httpMaxThreads the most threads the HTTP server may run; requests waiting for a reply hold
 *     none, so these only parse requests, read bodies and run handlers
 * @param httpAcceptQueue how many connections the kernel may hold for the HTTP server before it
 *     accepts them (the listen backlog; capped by {@code net.core.somaxconn}); the JVM's default of
 *     50 makes a burst of new connections wait for retransmitted SYNs
 * @param access who may call which routes; {@link AccessPolicy#OPEN} asks no credential
 * @param tls the HTTPS identity, or null for plain HTTP on the HTTP port
 * @param httpRedirectPort with {@code tls}, a plain port that answers every request with a redirect to
 *     https (0 picks a free one), or {@link #NO_REDIRECT}
 * @param demoWorkerBrokers where the demo workers serve: empty for the embedded broker (in process),
 *     or other brokers' endpoints, whose host names are looked up again now and then so every address
 *     of a name is served (a Kubernetes headless Service)
 * @param dashboardPeriod how often the dashboard takes a broker snapshot and sends it to every open page
 */
public record GatewayConfig(
        BrokerConfig broker,
        String httpHost,
        int httpPort,
        Duration requestTimeout,
        Duration maxRequestTimeout,
        long maxBodyBytes,
        List<String> corsOrigins,
        boolean demoWorkers,
        Duration pingInterval,
        int maxBufferedParts,
        long maxBufferedReplyBytes,
        Duration drainDelay,
        Duration drainGrace,
        int httpMaxThreads,
        int httpAcceptQueue,
        AccessPolicy access,
        TlsSettings tls,
        int httpRedirectPort,
        List<String> demoWorkerBrokers,
        Duration dashboardPeriod) {

    public static final String DEFAULT_HTTP_HOST = "0.0.0.0";
    public static final int DEFAULT_HTTP_PORT = 8080;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_MAX_REQUEST_TIMEOUT = Duration.ofMinutes(5);
    public static final long DEFAULT_MAX_BODY_BYTES = 16L * 1024 * 1024;
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(15);
    public static final int DEFAULT_MAX_BUFFERED_PARTS = 1024;
    public static final long DEFAULT_MAX_BUFFERED_REPLY_BYTES = 16L * 1024 * 1024;
    public static final Duration DEFAULT_DRAIN_DELAY = Duration.ZERO;
    public static final Duration DEFAULT_DRAIN_GRACE = Duration.ofSeconds(10);
    /** Javalin's own default is 250; replies need no thread, so fewer keep a burst of streams cheap. */
    public static final int DEFAULT_HTTP_MAX_THREADS = 100;
    /** Below this Jetty cannot run its acceptors and selectors and still serve. */
    public static final int MIN_HTTP_MAX_THREADS = 16;
    public static final int DEFAULT_HTTP_ACCEPT_QUEUE = 1024;
    public static final Duration DEFAULT_DASHBOARD_PERIOD = Duration.ofSeconds(1);
    /** No plain port redirecting to https. */
    public static final int NO_REDIRECT = -1;

    public GatewayConfig {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(httpHost, "httpHost");
        if (httpPort < 0 || httpPort > 65535) {
            throw new IllegalArgumentException("HTTP port must be 0..65535, got " + httpPort);
        }
        Require.positive(requestTimeout, "request timeout");
        Require.positive(maxRequestTimeout, "max request timeout");
        if (requestTimeout.compareTo(maxRequestTimeout) > 0) {
            throw new IllegalArgumentException("request timeout (" + requestTimeout.toMillis()
                    + " ms) must not exceed the max request timeout (" + maxRequestTimeout.toMillis() + " ms)");
        }
        Require.positive(maxBodyBytes, "max body bytes");
        corsOrigins = List.copyOf(corsOrigins);
        demoWorkerBrokers = List.copyOf(demoWorkerBrokers);
        Require.positive(pingInterval, "ping interval");
        Require.positive(maxBufferedParts, "max buffered parts");
        Require.positive(maxBufferedReplyBytes, "max buffered reply bytes");
        Objects.requireNonNull(drainDelay, "drainDelay");
        if (drainDelay.isNegative()) {
            throw new IllegalArgumentException("drain delay must not be negative, got " + drainDelay.toMillis() + " ms");
        }
        Objects.requireNonNull(drainGrace, "drainGrace");
        Require.atLeast(httpMaxThreads, MIN_HTTP_MAX_THREADS, "HTTP max threads");
        Require.positive(httpAcceptQueue, "HTTP accept queue");
        Objects.requireNonNull(access, "access");
        Require.positive(dashboardPeriod, "dashboard period");
        if (httpRedirectPort != NO_REDIRECT) {
            if (tls == null) {
                throw new IllegalArgumentException("an HTTP redirect port needs TLS (--tls-keystore) to redirect to");
            }
            if (httpRedirectPort < 0 || httpRedirectPort > 65535) {
                throw new IllegalArgumentException("HTTP redirect port must be 0..65535, got " + httpRedirectPort);
            }
            if (httpRedirectPort != 0 && httpRedirectPort == httpPort) {
                throw new IllegalArgumentException("the HTTP redirect port must differ from the HTTP port " + httpPort);
            }
        }
    }

    /** The defaults around {@code broker}: port 8080 on every interface, no demo workers. */
    public static GatewayConfig defaults(BrokerConfig broker) {
        return new GatewayConfig(broker, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, DEFAULT_REQUEST_TIMEOUT,
                DEFAULT_MAX_REQUEST_TIMEOUT, DEFAULT_MAX_BODY_BYTES, List.of(), false, DEFAULT_PING_INTERVAL,
                DEFAULT_MAX_BUFFERED_PARTS, DEFAULT_MAX_BUFFERED_REPLY_BYTES, DEFAULT_DRAIN_DELAY, DEFAULT_DRAIN_GRACE,
                DEFAULT_HTTP_MAX_THREADS, DEFAULT_HTTP_ACCEPT_QUEUE, AccessPolicy.OPEN, null, NO_REDIRECT, List.of(),
                DEFAULT_DASHBOARD_PERIOD);
    }

    public GatewayConfig withHttp(String host, int port) {
        return edit(f -> {
            f.httpHost = host;
            f.httpPort = port;
        });
    }

    public GatewayConfig withTimeouts(Duration defaultTimeout, Duration maxTimeout) {
        return edit(f -> {
            f.requestTimeout = defaultTimeout;
            f.maxRequestTimeout = maxTimeout;
        });
    }

    public GatewayConfig withMaxBodyBytes(long bytes) {
        return edit(f -> f.maxBodyBytes = bytes);
    }

    /** Demo workers on these brokers instead of the embedded one; see {@link #demoWorkerBrokers()}. */
    public GatewayConfig withDemoWorkerBrokers(List<String> endpoints) {
        return edit(f -> {
            f.demoWorkerBrokers = endpoints;
            f.demoWorkers = f.demoWorkers || !endpoints.isEmpty();
        });
    }

    public GatewayConfig withDemoWorkers(boolean demo) {
        return edit(f -> f.demoWorkers = demo);
    }

    public GatewayConfig withPingInterval(Duration interval) {
        return edit(f -> f.pingInterval = interval);
    }

    public GatewayConfig withReplyBuffer(int parts, long bytes) {
        return edit(f -> {
            f.maxBufferedParts = parts;
            f.maxBufferedReplyBytes = bytes;
        });
    }

    public GatewayConfig withCorsOrigins(List<String> origins) {
        return edit(f -> f.corsOrigins = origins);
    }

    /** How long {@link Gateway#close()} goes on serving normally, readiness already 503, before it stops accepting. */
    public GatewayConfig withDrainDelay(Duration delay) {
        return edit(f -> f.drainDelay = delay);
    }

    public GatewayConfig withDrainGrace(Duration grace) {
        return edit(f -> f.drainGrace = grace);
    }

    public GatewayConfig withHttpMaxThreads(int threads) {
        return edit(f -> f.httpMaxThreads = threads);
    }

    public GatewayConfig withHttpAcceptQueue(int connections) {
        return edit(f -> f.httpAcceptQueue = connections);
    }

    /** How often the dashboard refreshes its open pages. */
    GatewayConfig withDashboardPeriod(Duration period) {
        return edit(f -> f.dashboardPeriod = period);
    }

    GatewayConfig withAccess(AccessPolicy policy) {
        return edit(f -> f.access = policy);
    }

    /** HTTPS on the HTTP port with {@code settings}, and a plain redirecting port or {@link #NO_REDIRECT}. */
    GatewayConfig withTls(TlsSettings settings, int redirectPort) {
        return edit(f -> {
            f.tls = settings;
            f.httpRedirectPort = redirectPort;
        });
    }

    /** Whether the HTTP port speaks HTTPS. */
    public boolean isTls() {
        return tls != null;
    }

    /** A copy with what {@code change} sets; validated as a whole, so related settings change together. */
    private GatewayConfig edit(java.util.function.Consumer<Fields> change) {
        Fields f = new Fields(this);
        change.accept(f);
        return f.build();
    }

    /** The fields of a config being edited; one place that lists them all. */
    private static final class Fields {
        BrokerConfig broker;
        String httpHost;
        int httpPort;
        Duration requestTimeout;
        Duration maxRequestTimeout;
        long maxBodyBytes;
        List<String> corsOrigins;
        boolean demoWorkers;
        List<String> demoWorkerBrokers;
        Duration pingInterval;
        int maxBufferedParts;
        long maxBufferedReplyBytes;
        Duration drainDelay;
        Duration drainGrace;
        int httpMaxThreads;
        int httpAcceptQueue;
        AccessPolicy access;
        TlsSettings tls;
        int httpRedirectPort;
        Duration dashboardPeriod;

        Fields(GatewayConfig c) {
            broker = c.broker;
            httpHost = c.httpHost;
            httpPort = c.httpPort;
            requestTimeout = c.requestTimeout;
            maxRequestTimeout = c.maxRequestTimeout;
            maxBodyBytes = c.maxBodyBytes;
            corsOrigins = c.corsOrigins;
            demoWorkers = c.demoWorkers;
            pingInterval = c.pingInterval;
            maxBufferedParts = c.maxBufferedParts;
            maxBufferedReplyBytes = c.maxBufferedReplyBytes;
            drainDelay = c.drainDelay;
            drainGrace = c.drainGrace;
            httpMaxThreads = c.httpMaxThreads;
            httpAcceptQueue = c.httpAcceptQueue;
            access = c.access;
            tls = c.tls;
            httpRedirectPort = c.httpRedirectPort;
            demoWorkerBrokers = c.demoWorkerBrokers;
            dashboardPeriod = c.dashboardPeriod;
        }

        GatewayConfig build() {
            return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                    corsOrigins, demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainDelay,
                    drainGrace, httpMaxThreads, httpAcceptQueue, access, tls, httpRedirectPort, demoWorkerBrokers,
                    dashboardPeriod);
        }
    }
}
