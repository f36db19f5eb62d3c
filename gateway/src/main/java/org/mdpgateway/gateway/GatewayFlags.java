package org.mdpgateway.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.BrokerFlags;

/**
 * The gateway's flags. Each has an environment variable twin, {@code MDPGW_} and the flag's name in
 * upper case with underscores ({@code --http-port} is {@code MDPGW_HTTP_PORT}); a flag given on the
 * command line wins over its twin. Repeatable flags take a comma-separated list in the environment.
 */
record GatewayFlags(GatewayConfig config, boolean help, boolean accessLog) {

    static final String HELP = ""
            + "  --http-host HOST              interface to listen on (default 0.0.0.0)\n"
            + "  --http-port N                 HTTP port, 0 for any free one (default " + GatewayConfig.DEFAULT_HTTP_PORT + ")\n"
            + "  --broker-bind ENDPOINT        where the broker listens; repeatable (default " + BrokerFlags.DEFAULT_BIND + ")\n"
            + "  --heartbeat-interval-ms N     broker heartbeat interval (default 2500)\n"
            + "  --heartbeat-liveness N        intervals of silence before a worker is dead (default 3)\n"
            + "  --request-expiry-ms N         how long a request waits for a worker in the broker (default 30000)\n"
            + "  --max-queued N                waiting requests per service (default 10000)\n"
            + "  --max-queued-total N          waiting requests across all services (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL + ")\n"
            + "  --max-queued-per-client N     waiting requests of one client for one service; each HTTP request is a\n"
            + "                                client of its own (default " + BrokerConfig.DEFAULT_MAX_QUEUED_PER_CLIENT + ")\n"
            + "  --max-queued-bytes N          body bytes of all waiting requests together (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_BYTES + ")\n"
            + "  --max-message-bytes N         largest message a peer may send to the broker port; a peer that sends\n"
            + "                                more is disconnected (default " + BrokerConfig.DEFAULT_MAX_MESSAGE_BYTES + ")\n"
            + "  --max-resends N               times a request goes to another worker after its worker died (default "
            + BrokerConfig.DEFAULT_MAX_RESENDS + ")\n"
            + "  --busy-worker-expiry-ms N     silence allowed to a busy MDP/0.1 or majortomo worker, which does not\n"
            + "                                heartbeat while busy (default: interval x liveness, as every worker)\n"
            + "  --max-collected-reply-bytes N largest reply collected from PARTIALs for an MDP/0.1 client (default "
            + BrokerConfig.DEFAULT_MAX_COLLECTED_REPLY_BYTES + ")\n"
            + "  --request-timeout-ms N        deadline of a request that names none (default "
            + GatewayConfig.DEFAULT_REQUEST_TIMEOUT.toMillis() + ")\n"
            + "  --max-request-timeout-ms N    longest deadline a request may ask for (default "
            + GatewayConfig.DEFAULT_MAX_REQUEST_TIMEOUT.toMillis() + ")\n"
            + "  --max-body-bytes N            largest request body (default " + GatewayConfig.DEFAULT_MAX_BODY_BYTES + ")\n"
            + "  --max-buffered-parts N        reply parts one response may hold for a slow client, or collect for a\n"
            + "                                JSON reply, before it fails (default " + GatewayConfig.DEFAULT_MAX_BUFFERED_PARTS + ")\n"
            + "  --max-buffered-reply-bytes N  reply body bytes one response may hold or collect, the same way (default "
            + GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES + ")\n"
            + "  --cors-origin ORIGIN          an origin browsers may call from; repeatable\n"
            + "  --ping-interval-ms N          SSE keep-alive comment interval (default "
            + GatewayConfig.DEFAULT_PING_INTERVAL.toMillis() + ")\n"
            + "  --drain-grace-ms N            how long requests in flight may finish on SIGTERM (default "
            + GatewayConfig.DEFAULT_DRAIN_GRACE.toMillis() + ")\n"
            + "  --http-max-threads N          most HTTP server threads; waiting replies hold none (default "
            + GatewayConfig.DEFAULT_HTTP_MAX_THREADS + ", at least " + GatewayConfig.MIN_HTTP_MAX_THREADS + ")\n"
            + "  --demo-workers                run the demo services echo and count in process\n"
            + "  --access-log                  log one line per HTTP request (logger mdp-gateway.access; off by default)\n"
            + "  --help                        this text\n"
            + "Every flag can also be set as an environment variable: --http-port is MDPGW_HTTP_PORT.\n";

    private static final List<String> VALUE_FLAGS = List.of("--http-host", "--http-port", "--broker-bind",
            "--heartbeat-interval-ms", "--heartbeat-liveness", "--request-expiry-ms", "--max-queued",
            "--max-queued-total", "--max-queued-per-client", "--max-queued-bytes", "--max-message-bytes",
            "--max-resends", "--busy-worker-expiry-ms", "--max-collected-reply-bytes", "--request-timeout-ms", "--max-request-timeout-ms", "--max-body-bytes",
            "--max-buffered-parts", "--max-buffered-reply-bytes", "--cors-origin",
            "--ping-interval-ms", "--drain-grace-ms", "--http-max-threads");
    private static final List<String> REPEATABLE = List.of("--broker-bind", "--cors-origin");
    private static final List<String> SWITCHES = List.of("--demo-workers", "--access-log", "--help");

    static String envName(String flag) {
        return "MDPGW_" + flag.substring(2).toUpperCase(Locale.ROOT).replace('-', '_');
    }

    /**
     * Reads the flags from {@code args} and their twins from {@code env}.
     *
     * @throws IllegalArgumentException naming the flag that is wrong
     */
    static GatewayFlags parse(String[] args, Map<String, String> env) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        for (String flag : VALUE_FLAGS) {
            String fromEnv = env.get(envName(flag));
            if (fromEnv != null && !fromEnv.isBlank()) {
                values.put(flag, REPEATABLE.contains(flag) ? splitList(fromEnv) : new ArrayList<>(List.of(fromEnv)));
            }
        }
        boolean demo = isTrue(env.get(envName("--demo-workers")));
        boolean accessLog = isTrue(env.get(envName("--access-log")));
        boolean help = false;
        Map<String, List<String>> fromArgs = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            String value = null;
            int eq = name.indexOf('=');
            if (name.startsWith("--") && eq > 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (name.equals("--help") || name.equals("-h")) {
                help = true;
            } else if (name.equals("--demo-workers")) {
                demo = value == null || isTrue(value);
            } else if (name.equals("--access-log")) {
                accessLog = value == null || isTrue(value);
            } else if (VALUE_FLAGS.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException(name + " needs a value");
                    }
                    value = args[++i];
                }
                fromArgs.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } else {
                throw new IllegalArgumentException("unknown option " + name);
            }
        }
        values.putAll(fromArgs);

        List<String> brokerArgs = new ArrayList<>();
        for (String endpoint : values.getOrDefault("--broker-bind", List.of())) {
            brokerArgs.add("--bind");
            brokerArgs.add(endpoint);
        }
        for (String flag : List.of("--heartbeat-interval-ms", "--heartbeat-liveness", "--request-expiry-ms",
                "--max-queued", "--max-queued-total", "--max-queued-per-client", "--max-queued-bytes",
                "--max-message-bytes", "--max-resends", "--busy-worker-expiry-ms", "--max-collected-reply-bytes")) {
            String v = last(values, flag);
            if (v != null) {
                brokerArgs.add(flag);
                brokerArgs.add(v);
            }
        }
        BrokerFlags broker = BrokerFlags.parseStrict(brokerArgs.toArray(String[]::new));
        GatewayConfig config = GatewayConfig.defaults(broker.config())
                .withHttp(valueOr(values, "--http-host", "0.0.0.0"), (int) number(values, "--http-port",
                        GatewayConfig.DEFAULT_HTTP_PORT, 0))
                .withTimeouts(millis(values, "--request-timeout-ms", GatewayConfig.DEFAULT_REQUEST_TIMEOUT),
                        millis(values, "--max-request-timeout-ms", GatewayConfig.DEFAULT_MAX_REQUEST_TIMEOUT))
                .withMaxBodyBytes(number(values, "--max-body-bytes", GatewayConfig.DEFAULT_MAX_BODY_BYTES, 1))
                .withReplyBuffer((int) Math.min(Integer.MAX_VALUE,
                                number(values, "--max-buffered-parts", GatewayConfig.DEFAULT_MAX_BUFFERED_PARTS, 1)),
                        number(values, "--max-buffered-reply-bytes", GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES, 1))
                .withCorsOrigins(values.getOrDefault("--cors-origin", List.of()))
                .withPingInterval(millis(values, "--ping-interval-ms", GatewayConfig.DEFAULT_PING_INTERVAL))
                .withDrainGrace(Duration.ofMillis(number(values, "--drain-grace-ms",
                        GatewayConfig.DEFAULT_DRAIN_GRACE.toMillis(), 0)))
                .withHttpMaxThreads((int) number(values, "--http-max-threads", GatewayConfig.DEFAULT_HTTP_MAX_THREADS,
                        GatewayConfig.MIN_HTTP_MAX_THREADS))
                .withDemoWorkers(demo);
        return new GatewayFlags(config, help, accessLog);
    }

    private static List<String> splitList(String value) {
        List<String> items = new ArrayList<>();
        for (String item : value.split(",")) {
            if (!item.isBlank()) {
                items.add(item.trim());
            }
        }
        return items;
    }

    private static boolean isTrue(String value) {
        return value != null && (value.equalsIgnoreCase("true") || value.equals("1") || value.equalsIgnoreCase("yes"));
    }

    private static String last(Map<String, List<String>> values, String flag) {
        List<String> v = values.get(flag);
        return v == null || v.isEmpty() ? null : v.get(v.size() - 1);
    }

    private static String valueOr(Map<String, List<String>> values, String flag, String fallback) {
        String v = last(values, flag);
        return v != null ? v : fallback;
    }

    private static Duration millis(Map<String, List<String>> values, String flag, Duration fallback) {
        return Duration.ofMillis(number(values, flag, fallback.toMillis(), 1));
    }

    private static long number(Map<String, List<String>> values, String flag, long fallback, long min) {
        String v = last(values, flag);
        if (v == null) {
            return fallback;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n < min) {
                throw new IllegalArgumentException(flag + " must be at least " + min + ", got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a whole number, got '" + v + "'");
        }
    }
}
