package org.mdpgateway.broker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The broker's settings as command-line options, declared once for every command that runs a
 * broker: the standalone broker ({@link BrokerFlags}) and the gateway, which embeds one. A command
 * takes them with {@code @Mixin BrokerOptions broker;} and names its own bind option, as the gateway
 * calls it {@code --broker-bind}. The defaults are {@link BrokerConfig}'s.
 */
public final class BrokerOptions {

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Option(names = "--heartbeat-interval-ms", paramLabel = "N",
            description = "heartbeat interval, both ways (default: ${DEFAULT-VALUE})")
    int heartbeatIntervalMs = (int) BrokerConfig.DEFAULT_HEARTBEAT_INTERVAL.toMillis();

    @Option(names = "--heartbeat-liveness", paramLabel = "N",
            description = "intervals of silence before a worker is dead (default: ${DEFAULT-VALUE})")
    int heartbeatLiveness = BrokerConfig.DEFAULT_HEARTBEAT_LIVENESS;

    @Option(names = "--request-expiry-ms", paramLabel = "N",
            description = "how long a request waits for a worker (default: ${DEFAULT-VALUE})")
    int requestExpiryMs = (int) BrokerConfig.DEFAULT_REQUEST_EXPIRY.toMillis();

    @Option(names = "--max-queued", paramLabel = "N",
            description = "waiting requests per service (default: ${DEFAULT-VALUE})")
    int maxQueued = BrokerConfig.DEFAULT_MAX_QUEUED_PER_SERVICE;

    // Unset, it follows --max-queued up: a larger per-service bound raises the total with it.
    @Option(names = "--max-queued-total", paramLabel = "N",
            description = "waiting requests across all services (default: " + BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL
                    + ", or --max-queued if more)")
    Integer maxQueuedTotal;

    @Option(names = "--max-queued-per-client", paramLabel = "N",
            description = "waiting requests of one client for one service; an HTTP request is one client "
                    + "(default: ${DEFAULT-VALUE})")
    int maxQueuedPerClient = BrokerConfig.DEFAULT_MAX_QUEUED_PER_CLIENT;

    // Unset, it follows --max-message-bytes up, as one message must fit.
    @Option(names = "--max-queued-bytes", paramLabel = "N",
            description = "body bytes of all waiting requests together (default: " + BrokerConfig.DEFAULT_MAX_QUEUED_BYTES
                    + ", or --max-message-bytes if more)")
    Long maxQueuedBytes;

    @Option(names = "--max-message-bytes", paramLabel = "N",
            description = "largest message a peer may send; a larger one disconnects it (default: ${DEFAULT-VALUE})")
    long maxMessageBytes = BrokerConfig.DEFAULT_MAX_MESSAGE_BYTES;

    @Option(names = "--max-resends", paramLabel = "N",
            description = "times a request goes to another worker after its worker died (default: ${DEFAULT-VALUE})")
    int maxResends = BrokerConfig.DEFAULT_MAX_RESENDS;

    @Option(names = "--busy-worker-expiry-ms", paramLabel = "N",
            description = "silence allowed to a busy MDP/0.1 or majortomo worker, which does not heartbeat while "
                    + "busy (default: interval x liveness, as every worker)")
    Integer busyWorkerExpiryMs;

    @Option(names = "--max-collected-reply-bytes", paramLabel = "N",
            description = "largest reply collected from PARTIALs for an MDP/0.1 client (default: ${DEFAULT-VALUE})")
    int maxCollectedReplyBytes = (int) BrokerConfig.DEFAULT_MAX_COLLECTED_REPLY_BYTES;

    @Option(names = "--curve-secret-key-file", paramLabel = "FILE",
            description = "the broker's CURVE certificate with its secret key (ZeroMQ format, as keygen writes it); "
                    + "turns CURVE on, with --curve-allowed-dir (default: no CURVE)")
    Path curveSecretKeyFile;

    @Option(names = "--curve-allowed-dir", paramLabel = "DIR",
            description = "public certificates of the peers allowed to connect; changes there take effect "
                    + "without a restart")
    Path curveAllowedDir;

    @Option(names = "--acl", paramLabel = "FILE",
            description = "lines 'worker|client <service-glob> <z85-key|*>': which key may serve or call what "
                    + "(needs CURVE; default: every allowed key may do everything)")
    Path acl;

    @Option(names = "--allow-insecure-remote", arity = "0..1", fallbackValue = "true", paramLabel = "BOOL",
            converter = CommandLines.Switch.class,
            description = "without CURVE, accept peers from any address, not only loopback (default: off)")
    boolean allowInsecureRemote;

    /**
     * The broker's settings, bound to {@code bindEndpoints} ({@link BrokerConfig#DEFAULT_BIND} if
     * empty).
     *
     * @throws ParameterException naming the option that is wrong, or saying which two disagree
     */
    public BrokerConfig toConfig(List<String> bindEndpoints) {
        atLeast("--heartbeat-interval-ms", heartbeatIntervalMs, 1);
        atLeast("--heartbeat-liveness", heartbeatLiveness, 1);
        atLeast("--request-expiry-ms", requestExpiryMs, 1);
        atLeast("--max-queued", maxQueued, 0);
        atLeast("--max-queued-per-client", maxQueuedPerClient, 1);
        atLeast("--max-message-bytes", maxMessageBytes, 1);
        atLeast("--max-resends", maxResends, 0);
        atLeast("--max-collected-reply-bytes", maxCollectedReplyBytes, 1);
        if (maxQueuedTotal != null) {
            atLeast("--max-queued-total", maxQueuedTotal, 0);
        }
        if (maxQueuedBytes != null) {
            atLeast("--max-queued-bytes", maxQueuedBytes, 1);
        }
        if (busyWorkerExpiryMs != null) {
            atLeast("--busy-worker-expiry-ms", busyWorkerExpiryMs, 1);
        }
        try {
            return new BrokerConfig(bindEndpoints.isEmpty() ? List.of(BrokerConfig.DEFAULT_BIND) : bindEndpoints,
                    Duration.ofMillis(heartbeatIntervalMs), heartbeatLiveness, Duration.ofMillis(requestExpiryMs),
                    maxQueued,
                    maxQueuedTotal != null ? maxQueuedTotal : Math.max(maxQueued, BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL),
                    maxResends, busyWorkerExpiryMs != null ? Duration.ofMillis(busyWorkerExpiryMs) : null,
                    maxCollectedReplyBytes, maxQueuedPerClient,
                    maxQueuedBytes != null ? maxQueuedBytes
                            : Math.max(maxMessageBytes, BrokerConfig.DEFAULT_MAX_QUEUED_BYTES),
                    maxMessageBytes,
                    new BrokerSecurity(curveSecretKeyFile, curveAllowedDir, acl, allowInsecureRemote));
        } catch (IllegalArgumentException e) {
            throw CommandLines.usageError(command, e.getMessage());
        }
    }

    private void atLeast(String option, long value, long min) {
        CommandLines.atLeast(command, option, value, min);
    }
}
