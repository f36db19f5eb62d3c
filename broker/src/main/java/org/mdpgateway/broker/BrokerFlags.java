package org.mdpgateway.broker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The broker's command-line flags, shared by the standalone broker and the gateway's embedded one so
 * both take the same flags with the same defaults.
 */
public record BrokerFlags(BrokerConfig config, boolean help, List<String> rest) {

    public static final String DEFAULT_BIND = "tcp://*:5555";

    public static final String HELP = ""
            + "  --bind ENDPOINT               where the broker listens; repeatable (default " + DEFAULT_BIND + ")\n"
            + "  --heartbeat-interval-ms N     heartbeat interval, both ways (default "
            + BrokerConfig.DEFAULT_HEARTBEAT_INTERVAL.toMillis() + ")\n"
            + "  --heartbeat-liveness N        intervals of silence before a worker is dead (default "
            + BrokerConfig.DEFAULT_HEARTBEAT_LIVENESS + ")\n"
            + "  --request-expiry-ms N         how long a request waits for a worker (default "
            + BrokerConfig.DEFAULT_REQUEST_EXPIRY.toMillis() + ")\n"
            + "  --max-queued N                waiting requests per service before new ones are refused (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_PER_SERVICE + ")\n"
            + "  --max-queued-total N          waiting requests across all services (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL + ")\n"
            + "  --max-queued-per-client N     waiting requests of one client for one service (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_PER_CLIENT + ")\n"
            + "  --max-queued-bytes N          body bytes of all waiting requests together (default "
            + BrokerConfig.DEFAULT_MAX_QUEUED_BYTES + ")\n"
            + "  --max-message-bytes N         largest message a peer may send; a peer that sends more is\n"
            + "                                disconnected (default " + BrokerConfig.DEFAULT_MAX_MESSAGE_BYTES + ")\n"
            + "  --max-resends N               times a request goes to another worker after its worker died (default "
            + BrokerConfig.DEFAULT_MAX_RESENDS + ")\n"
            + "  --busy-worker-expiry-ms N     silence allowed to a busy MDP/0.1 or majortomo worker, which does not\n"
            + "                                heartbeat while busy (default: interval x liveness, as every worker)\n"
            + "  --max-collected-reply-bytes N largest reply the broker collects for an MDP/0.1 client from PARTIALs\n"
            + "                                and FINAL (default " + BrokerConfig.DEFAULT_MAX_COLLECTED_REPLY_BYTES + ")\n"
            + "  --help                        this text\n";

    /**
     * Reads the broker's flags; flags it does not know are returned in {@link #rest()} for the caller,
     * so the gateway can add its own.
     *
     * @throws IllegalArgumentException naming the flag that is wrong
     */
    public static BrokerFlags parse(String... args) {
        List<String> binds = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        BrokerConfig base = BrokerConfig.defaults(DEFAULT_BIND);
        Duration interval = base.heartbeatInterval();
        int liveness = base.heartbeatLiveness();
        Duration expiry = base.requestExpiry();
        int maxQueued = base.maxQueuedPerService();
        Integer maxQueuedTotal = null;
        int maxResends = base.maxResends();
        Duration busyExpiry = null;
        long maxCollected = base.maxCollectedReplyBytes();
        int maxPerClient = base.maxQueuedPerClient();
        Long maxQueuedBytes = null;
        long maxMessageBytes = base.maxMessageBytes();
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            switch (name) {
                case "--help", "-h" -> help = true;
                case "--bind" -> binds.add(value != null ? value : next(args, ++i, name));
                case "--heartbeat-interval-ms" -> interval = Duration.ofMillis(
                        positive(name, value != null ? value : next(args, ++i, name)));
                case "--heartbeat-liveness" -> liveness = (int) positive(name, value != null ? value : next(args, ++i, name));
                case "--request-expiry-ms" -> expiry = Duration.ofMillis(
                        positive(name, value != null ? value : next(args, ++i, name)));
                case "--max-queued" -> maxQueued = (int) nonNegative(name, value != null ? value : next(args, ++i, name));
                case "--max-queued-total" -> maxQueuedTotal =
                        (int) nonNegative(name, value != null ? value : next(args, ++i, name));
                case "--max-resends" -> maxResends = (int) nonNegative(name, value != null ? value : next(args, ++i, name));
                case "--busy-worker-expiry-ms" -> busyExpiry = Duration.ofMillis(
                        positive(name, value != null ? value : next(args, ++i, name)));
                case "--max-collected-reply-bytes" -> maxCollected =
                        positive(name, value != null ? value : next(args, ++i, name));
                case "--max-queued-per-client" -> maxPerClient =
                        (int) positive(name, value != null ? value : next(args, ++i, name));
                case "--max-queued-bytes" -> maxQueuedBytes = bytes(name, value != null ? value : next(args, ++i, name));
                case "--max-message-bytes" -> maxMessageBytes = bytes(name, value != null ? value : next(args, ++i, name));
                default -> rest.add(arg);
            }
        }
        int total = maxQueuedTotal != null ? maxQueuedTotal : Math.max(maxQueued, base.maxQueuedTotal());
        BrokerConfig config = new BrokerConfig(binds.isEmpty() ? List.of(DEFAULT_BIND) : binds, interval, liveness,
                expiry, maxQueued, total, maxResends, busyExpiry, maxCollected, maxPerClient,
                maxQueuedBytes != null ? maxQueuedBytes : Math.max(maxMessageBytes, base.maxQueuedBytes()),
                maxMessageBytes);
        return new BrokerFlags(config, help, List.copyOf(rest));
    }

    /** As {@link #parse}, but an unknown flag is an error. */
    public static BrokerFlags parseStrict(String... args) {
        BrokerFlags flags = parse(args);
        if (!flags.rest().isEmpty()) {
            throw new IllegalArgumentException("unknown option " + flags.rest().get(0));
        }
        return flags;
    }

    private static String next(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static long positive(String flag, String value) {
        long n = number(flag, value);
        if (n <= 0) {
            throw new IllegalArgumentException(flag + " must be positive, got " + value);
        }
        return n;
    }

    /** A positive byte count, which may pass the int range. */
    private static long bytes(String flag, String value) {
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a whole number of bytes, got '" + value + "'");
        }
        if (n <= 0) {
            throw new IllegalArgumentException(flag + " must be positive, got " + value);
        }
        return n;
    }

    private static long nonNegative(String flag, String value) {
        long n = number(flag, value);
        if (n < 0) {
            throw new IllegalArgumentException(flag + " must not be negative, got " + value);
        }
        return n;
    }

    private static long number(String flag, String value) {
        try {
            long n = Long.parseLong(value.trim());
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(flag + " is too large: " + value);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a whole number, got '" + value + "'");
        }
    }
}
