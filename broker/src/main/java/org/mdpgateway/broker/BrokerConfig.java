package org.mdpgateway.broker;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.mdpgateway.mdp.internal.Require;

/**
 * How a broker runs. Every field is validated here, so a broker never starts half configured.
 *
 * @param bindEndpoints where the broker's one ROUTER socket binds, e.g. {@code tcp://*:5555}; at
 *     least one
 * @param heartbeatInterval how often the broker heartbeats each worker; workers should use the same
 *     (18/MDP)
 * @param heartbeatLiveness how many intervals of silence make a worker dead
 * @param requestExpiry how long a request may wait in its service's queue for a worker
 * @param maxQueuedPerService how many requests one service may hold waiting; past it new ones are
 *     refused
 * @param maxQueuedTotal how many requests all services together may hold waiting, so that requests
 *     for many made-up service names cannot grow memory without bound
 * @param maxResends how many times one request is given to another worker after its worker died
 *     before it fails
 * @param busyWorkerExpiry how long a busy worker of a dialect that does not heartbeat while busy
 *     (MDP/0.1, majortomo) may stay silent before it is dead; null for the same as every worker
 *     ({@link #workerExpiry()})
 * @param maxCollectedReplyBytes how many body bytes the broker buffers when it collects a worker's
 *     PARTIALs and FINAL into the one reply of an MDP/0.1 client; past it the request fails and the
 *     client gets nothing. A FINAL with no PARTIALs before it is forwarded as it is, unbuffered.
 * @param maxQueuedPerClient how many requests of one client may wait in one service's queue; past it
 *     that client's new ones are refused (a request submitted in this process is a client of its own)
 * @param maxQueuedBytes how many body bytes all waiting requests together may hold; past it new
 *     requests are refused
 * @param maxMessageBytes the largest message a peer may send to the broker's socket; a peer that
 *     sends a larger one is disconnected by ZeroMQ ({@code ZMQ_MAXMSGSIZE}) before it is buffered
 * @param security who may connect and what they may do ({@link BrokerSecurity}); by default no
 *     CURVE and loopback peers only
 */
public record BrokerConfig(
        List<String> bindEndpoints,
        Duration heartbeatInterval,
        int heartbeatLiveness,
        Duration requestExpiry,
        int maxQueuedPerService,
        int maxQueuedTotal,
        int maxResends,
        Duration busyWorkerExpiry,
        long maxCollectedReplyBytes,
        int maxQueuedPerClient,
        long maxQueuedBytes,
        long maxMessageBytes,
        BrokerSecurity security) {

    /** Where the standalone broker and the gateway's broker listen unless told. */
    public static final String DEFAULT_BIND = "tcp://*:5555";
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofMillis(2500);
    public static final int DEFAULT_HEARTBEAT_LIVENESS = 3;
    public static final Duration DEFAULT_REQUEST_EXPIRY = Duration.ofSeconds(30);
    public static final int DEFAULT_MAX_QUEUED_PER_SERVICE = 10_000;
    public static final int DEFAULT_MAX_QUEUED_TOTAL = 100_000;
    public static final int DEFAULT_MAX_RESENDS = 3;
    public static final long DEFAULT_MAX_COLLECTED_REPLY_BYTES = 16L << 20;
    public static final int DEFAULT_MAX_QUEUED_PER_CLIENT = 1000;
    public static final long DEFAULT_MAX_QUEUED_BYTES = 256L << 20;
    public static final long DEFAULT_MAX_MESSAGE_BYTES = 64L << 20;

    public BrokerConfig {
        bindEndpoints = List.copyOf(Objects.requireNonNull(bindEndpoints, "bindEndpoints"));
        Objects.requireNonNull(security, "security");
        Require.positive(heartbeatInterval, "heartbeat interval");
        Require.positive(requestExpiry, "request expiry");
        Require.atLeast(heartbeatLiveness, 1, "heartbeat liveness");
        Require.atLeast(maxQueuedPerService, 0, "max queued per service");
        if (maxQueuedTotal < maxQueuedPerService) {
            throw new IllegalArgumentException("max queued in total (" + maxQueuedTotal
                    + ") must be at least max queued per service (" + maxQueuedPerService + ")");
        }
        if (busyWorkerExpiry != null) {
            Require.positive(busyWorkerExpiry, "busy worker expiry");
        }
        Require.positive(maxCollectedReplyBytes, "max collected reply bytes");
        Require.atLeast(maxQueuedPerClient, 1, "max queued per client");
        Require.positive(maxMessageBytes, "max message bytes");
        if (maxQueuedBytes < maxMessageBytes) {
            throw new IllegalArgumentException("max queued bytes (" + maxQueuedBytes
                    + ") must be at least max message bytes (" + maxMessageBytes + ")");
        }
        Require.atLeast(maxResends, 0, "max resends");
    }

    /** The defaults, bound to {@code endpoints}. */
    public static BrokerConfig defaults(String... endpoints) {
        return new BrokerConfig(List.of(endpoints), DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_LIVENESS,
                DEFAULT_REQUEST_EXPIRY, DEFAULT_MAX_QUEUED_PER_SERVICE, DEFAULT_MAX_QUEUED_TOTAL,
                DEFAULT_MAX_RESENDS, null, DEFAULT_MAX_COLLECTED_REPLY_BYTES, DEFAULT_MAX_QUEUED_PER_CLIENT,
                DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_MESSAGE_BYTES, BrokerSecurity.LOOPBACK_ONLY);
    }

    /** How long a worker may stay silent before it is dead. */
    public Duration workerExpiry() {
        return heartbeatInterval.multipliedBy(heartbeatLiveness);
    }

    /** How long a busy worker that does not heartbeat while busy may stay silent. */
    public Duration effectiveBusyWorkerExpiry() {
        return busyWorkerExpiry != null ? busyWorkerExpiry : workerExpiry();
    }

    public BrokerConfig withBindEndpoints(List<String> endpoints) {
        return edit(b -> b.bindEndpoints = endpoints);
    }

    public BrokerConfig withHeartbeat(Duration interval, int liveness) {
        return edit(b -> {
            b.heartbeatInterval = interval;
            b.heartbeatLiveness = liveness;
        });
    }

    public BrokerConfig withRequestExpiry(Duration expiry) {
        return edit(b -> b.requestExpiry = expiry);
    }

    public BrokerConfig withMaxQueued(int perService, int total) {
        return edit(b -> {
            b.maxQueuedPerService = perService;
            b.maxQueuedTotal = total;
        });
    }

    public BrokerConfig withMaxResends(int resends) {
        return edit(b -> b.maxResends = resends);
    }

    public BrokerConfig withBusyWorkerExpiry(Duration expiry) {
        return edit(b -> b.busyWorkerExpiry = expiry);
    }

    public BrokerConfig withMaxCollectedReplyBytes(long bytes) {
        return edit(b -> b.maxCollectedReplyBytes = bytes);
    }

    public BrokerConfig withMaxQueuedPerClient(int perClient) {
        return edit(b -> b.maxQueuedPerClient = perClient);
    }

    /** The byte limits: the largest message on the socket, and all waiting request bodies together. */
    public BrokerConfig withByteLimits(long messageBytes, long queuedBytes) {
        return edit(b -> {
            b.maxMessageBytes = messageBytes;
            b.maxQueuedBytes = queuedBytes;
        });
    }

    public BrokerConfig withSecurity(BrokerSecurity security) {
        return edit(b -> b.security = security);
    }

    /** A copy with what {@code change} sets; validated as a whole, so related limits change together. */
    private BrokerConfig edit(java.util.function.Consumer<Fields> change) {
        Fields f = new Fields(this);
        change.accept(f);
        return f.build();
    }

    /** The fields of a config being edited; one place that lists them all. */
    private static final class Fields {
        List<String> bindEndpoints;
        Duration heartbeatInterval;
        int heartbeatLiveness;
        Duration requestExpiry;
        int maxQueuedPerService;
        int maxQueuedTotal;
        int maxResends;
        Duration busyWorkerExpiry;
        long maxCollectedReplyBytes;
        int maxQueuedPerClient;
        long maxQueuedBytes;
        long maxMessageBytes;
        BrokerSecurity security;

        Fields(BrokerConfig c) {
            bindEndpoints = c.bindEndpoints;
            heartbeatInterval = c.heartbeatInterval;
            heartbeatLiveness = c.heartbeatLiveness;
            requestExpiry = c.requestExpiry;
            maxQueuedPerService = c.maxQueuedPerService;
            maxQueuedTotal = c.maxQueuedTotal;
            maxResends = c.maxResends;
            busyWorkerExpiry = c.busyWorkerExpiry;
            maxCollectedReplyBytes = c.maxCollectedReplyBytes;
            maxQueuedPerClient = c.maxQueuedPerClient;
            maxQueuedBytes = c.maxQueuedBytes;
            maxMessageBytes = c.maxMessageBytes;
            security = c.security;
        }

        BrokerConfig build() {
            return new BrokerConfig(bindEndpoints, heartbeatInterval, heartbeatLiveness, requestExpiry,
                    maxQueuedPerService, maxQueuedTotal, maxResends, busyWorkerExpiry, maxCollectedReplyBytes,
                    maxQueuedPerClient, maxQueuedBytes, maxMessageBytes, security);
        }
    }
}
