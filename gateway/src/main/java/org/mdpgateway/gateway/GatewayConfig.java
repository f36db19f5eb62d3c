package org.mdpgateway.gateway;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
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
 * @param drainGrace how long in-flight requests may take to finish when the gateway stops
 * @param httpMaxThreads the most threads the HTTP server may run; requests waiting for a reply hold
 *     none, so these only parse requests, read bodies and run handlers
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
        Duration drainGrace,
        int httpMaxThreads) {

    public static final String DEFAULT_HTTP_HOST = "0.0.0.0";
    public static final int DEFAULT_HTTP_PORT = 8080;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_MAX_REQUEST_TIMEOUT = Duration.ofMinutes(5);
    public static final long DEFAULT_MAX_BODY_BYTES = 16L * 1024 * 1024;
    public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(15);
    public static final int DEFAULT_MAX_BUFFERED_PARTS = 1024;
    public static final long DEFAULT_MAX_BUFFERED_REPLY_BYTES = 16L * 1024 * 1024;
    public static final Duration DEFAULT_DRAIN_GRACE = Duration.ofSeconds(10);
    /** Javalin's own default is 250; replies need no thread, so fewer keep a burst of streams cheap. */
    public static final int DEFAULT_HTTP_MAX_THREADS = 100;
    /** Below this Jetty cannot run its acceptors and selectors and still serve. */
    public static final int MIN_HTTP_MAX_THREADS = 16;

    public GatewayConfig {
        Objects.requireNonNull(broker, "broker");
        Objects.requireNonNull(httpHost, "httpHost");
        if (httpPort < 0 || httpPort > 65535) {
            throw new IllegalArgumentException("HTTP port must be 0..65535, got " + httpPort);
        }
        requirePositive(requestTimeout, "request timeout");
        requirePositive(maxRequestTimeout, "max request timeout");
        if (requestTimeout.compareTo(maxRequestTimeout) > 0) {
            throw new IllegalArgumentException("request timeout (" + requestTimeout.toMillis()
                    + " ms) must not exceed the max request timeout (" + maxRequestTimeout.toMillis() + " ms)");
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("max body bytes must be positive, got " + maxBodyBytes);
        }
        corsOrigins = List.copyOf(corsOrigins);
        requirePositive(pingInterval, "ping interval");
        if (maxBufferedParts < 1) {
            throw new IllegalArgumentException("max buffered parts must be positive, got " + maxBufferedParts);
        }
        if (maxBufferedReplyBytes < 1) {
            throw new IllegalArgumentException("max buffered reply bytes must be positive, got " + maxBufferedReplyBytes);
        }
        Objects.requireNonNull(drainGrace, "drainGrace");
        if (httpMaxThreads < MIN_HTTP_MAX_THREADS) {
            throw new IllegalArgumentException("HTTP max threads must be at least " + MIN_HTTP_MAX_THREADS + ", got "
                    + httpMaxThreads);
        }
    }

    /** The defaults around {@code broker}: port 8080 on every interface, no demo workers. */
    public static GatewayConfig defaults(BrokerConfig broker) {
        return new GatewayConfig(broker, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, DEFAULT_REQUEST_TIMEOUT,
                DEFAULT_MAX_REQUEST_TIMEOUT, DEFAULT_MAX_BODY_BYTES, List.of(), false, DEFAULT_PING_INTERVAL,
                DEFAULT_MAX_BUFFERED_PARTS, DEFAULT_MAX_BUFFERED_REPLY_BYTES, DEFAULT_DRAIN_GRACE, DEFAULT_HTTP_MAX_THREADS);
    }

    public GatewayConfig withHttp(String host, int port) {
        return new GatewayConfig(broker, host, port, requestTimeout, maxRequestTimeout, maxBodyBytes, corsOrigins,
                demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withTimeouts(Duration defaultTimeout, Duration maxTimeout) {
        return new GatewayConfig(broker, httpHost, httpPort, defaultTimeout, maxTimeout, maxBodyBytes, corsOrigins,
                demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withMaxBodyBytes(long bytes) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, bytes, corsOrigins,
                demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withDemoWorkers(boolean demo) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                corsOrigins, demo, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withPingInterval(Duration interval) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                corsOrigins, demoWorkers, interval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withReplyBuffer(int parts, long bytes) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                corsOrigins, demoWorkers, pingInterval, parts, bytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withCorsOrigins(List<String> origins) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                origins, demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, httpMaxThreads);
    }

    public GatewayConfig withDrainGrace(Duration grace) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                corsOrigins, demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, grace, httpMaxThreads);
    }

    public GatewayConfig withHttpMaxThreads(int threads) {
        return new GatewayConfig(broker, httpHost, httpPort, requestTimeout, maxRequestTimeout, maxBodyBytes,
                corsOrigins, demoWorkers, pingInterval, maxBufferedParts, maxBufferedReplyBytes, drainGrace, threads);
    }

    private static void requirePositive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
    }
}
