package org.mdpgateway.gateway;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.BrokerOptions;
import org.mdpgateway.broker.CommandLines;
import org.mdpgateway.broker.Keygen;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The gateway's command line: its own flags and the embedded broker's ({@link BrokerOptions}, the
 * same as the standalone broker's). Each flag has an environment variable twin,
 * {@code MDPGW_} and the flag's name in upper case with underscores ({@code --http-port} is
 * {@code MDPGW_HTTP_PORT}); a flag given on the command line wins over its twin. Repeatable flags
 * take a comma-separated list in the environment. Running the command runs the gateway;
 * {@code keygen} writes a CURVE key pair instead.
 */
@Command(name = "mdp-gateway", customSynopsis = {"java -jar mdp-gateway.jar [options]",
        "java -jar mdp-gateway.jar keygen NAME DIR"}, sortOptions = false, subcommands = Keygen.class,
        description = {"", "An HTTP gateway with an embedded Majordomo (MDP/0.2) broker. SIGTERM drains and stops it.",
            ""},
        footer = {"", "Every flag can also be set as an environment variable: --http-port is MDPGW_HTTP_PORT; "
            + "repeatable flags take a comma-separated list there. A flag on the command line wins."})
final class GatewayFlags implements Callable<Integer> {

    @Spec
    private CommandSpec command;

    @Option(names = "--http-host", paramLabel = "HOST", description = "interface to listen on (default: ${DEFAULT-VALUE})")
    String httpHost = GatewayConfig.DEFAULT_HTTP_HOST;

    @Option(names = "--http-port", paramLabel = "N",
            description = "HTTP port, 0 for any free one (default: ${DEFAULT-VALUE})")
    int httpPort = GatewayConfig.DEFAULT_HTTP_PORT;

    // --bind as well, so that every flag of the standalone broker works here unchanged.
    @Option(names = {"--broker-bind", "--bind"}, paramLabel = "ENDPOINT", split = ",",
            defaultValue = BrokerConfig.DEFAULT_BIND,
            description = "where the broker listens; repeatable (default: ${DEFAULT-VALUE})")
    List<String> brokerBind = new ArrayList<>();

    @Mixin
    BrokerOptions broker;

    @Option(names = "--request-timeout-ms", paramLabel = "N",
            description = "deadline of a request that names none (default: ${DEFAULT-VALUE})")
    long requestTimeoutMs = GatewayConfig.DEFAULT_REQUEST_TIMEOUT.toMillis();

    @Option(names = "--max-request-timeout-ms", paramLabel = "N",
            description = "longest deadline a request may ask for (default: ${DEFAULT-VALUE})")
    long maxRequestTimeoutMs = GatewayConfig.DEFAULT_MAX_REQUEST_TIMEOUT.toMillis();

    @Option(names = "--max-body-bytes", paramLabel = "N", description = "largest request body (default: ${DEFAULT-VALUE})")
    long maxBodyBytes = GatewayConfig.DEFAULT_MAX_BODY_BYTES;

    @Option(names = "--max-buffered-parts", paramLabel = "N",
            description = "reply parts one response may hold for a slow client, or collect for a JSON reply, "
                    + "before it fails (default: ${DEFAULT-VALUE})")
    long maxBufferedParts = GatewayConfig.DEFAULT_MAX_BUFFERED_PARTS;

    @Option(names = "--max-buffered-reply-bytes", paramLabel = "N",
            description = "reply body bytes one response may hold or collect, the same way (default: ${DEFAULT-VALUE})")
    long maxBufferedReplyBytes = GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES;

    @Option(names = "--cors-origin", paramLabel = "ORIGIN", split = ",",
            description = "an origin browsers may call from; repeatable (default: none)")
    List<String> corsOrigins = new ArrayList<>();

    @Option(names = "--ping-interval-ms", paramLabel = "N",
            description = "SSE keep-alive comment interval (default: ${DEFAULT-VALUE})")
    long pingIntervalMs = GatewayConfig.DEFAULT_PING_INTERVAL.toMillis();

    @Option(names = "--drain-delay-ms", paramLabel = "N",
            description = "on SIGTERM, how long to go on serving normally with readiness 503 before refusing "
                    + "connections, so load balancers stop sending first (default: ${DEFAULT-VALUE})")
    long drainDelayMs = GatewayConfig.DEFAULT_DRAIN_DELAY.toMillis();

    @Option(names = "--drain-grace-ms", paramLabel = "N",
            description = "how long requests in flight may finish on SIGTERM (default: ${DEFAULT-VALUE})")
    long drainGraceMs = GatewayConfig.DEFAULT_DRAIN_GRACE.toMillis();

    @Option(names = "--http-max-threads", paramLabel = "N",
            description = "most HTTP server threads; waiting replies hold none (default: ${DEFAULT-VALUE}, at least "
                    + GatewayConfig.MIN_HTTP_MAX_THREADS + ")")
    int httpMaxThreads = GatewayConfig.DEFAULT_HTTP_MAX_THREADS;

    @Option(names = "--http-accept-queue", paramLabel = "N",
            description = "connections the kernel may queue before the HTTP server accepts them, capped by "
                    + "net.core.somaxconn (default: ${DEFAULT-VALUE})")
    int httpAcceptQueue = GatewayConfig.DEFAULT_HTTP_ACCEPT_QUEUE;

    @Option(names = "--api-keys-file", paramLabel = "FILE",
            description = "API keys, one '<sha256-hex of the key> <service-glob>[,<glob>...]' a line; "
                    + "callers send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY' (default: none)")
    Path apiKeysFile;

    @Option(names = "--jwt-hs256-secret-file", paramLabel = "FILE",
            description = "accept Bearer JWTs signed HS256 with this secret, at least 32 bytes; the claim "
                    + "mdp_services lists the service globs a token grants (default: none)")
    Path jwtHs256SecretFile;

    @Option(names = "--jwt-jwks-file", paramLabel = "FILE",
            description = "accept Bearer JWTs signed RS256 or ES256 by a key of this JWK Set (default: none)")
    Path jwtJwksFile;

    @Option(names = "--jwt-audience", paramLabel = "AUD",
            description = "accept only JWTs whose aud claim holds this (default: aud is not checked)")
    String jwtAudience;

    @Option(names = "--jwt-issuer", paramLabel = "ISS",
            description = "accept only JWTs whose iss claim is this (default: iss is not checked)")
    String jwtIssuer;

    @Option(names = "--public-metrics", arity = "0..1", fallbackValue = "true", paramLabel = "BOOL",
            converter = CommandLines.Switch.class,
            description = "serve /metrics without a credential when credentials are configured (default: off)")
    boolean publicMetrics;

    @Option(names = "--public-docs", arity = "0..1", fallbackValue = "true", paramLabel = "BOOL",
            converter = CommandLines.Switch.class, description = "serve /docs and the OpenAPI document without a credential "
                    + "when credentials are configured (default: off)")
    boolean publicDocs;

    @Option(names = "--tls-keystore", paramLabel = "FILE",
            description = "PKCS12 key store: the HTTP port speaks HTTPS only (default: none, plain HTTP)")
    Path tlsKeystore;

    @Option(names = "--tls-keystore-password-file", paramLabel = "FILE",
            description = "the file holding the key store's password (default: none)")
    Path tlsKeystorePasswordFile;

    @Option(names = "--http-redirect-port", paramLabel = "N",
            description = "with TLS, a plain HTTP port that answers 308 to the https URL (default: none)")
    Integer httpRedirectPort;

    @Option(names = "--demo-workers", arity = "0..1", fallbackValue = "true", paramLabel = "BOOL",
            converter = CommandLines.Switch.class, description = "run the demo services echo and count in process (default: off)")
    boolean demoWorkers;

    @Option(names = "--demo-workers-brokers", paramLabel = "ENDPOINT", split = ",",
            description = "run the demo workers on these brokers instead of the embedded one (turns them on); "
                    + "a host name stands for every address it resolves to, looked up again every 10 s")
    List<String> demoWorkersBrokers = new ArrayList<>();

    @Option(names = "--access-log", arity = "0..1", fallbackValue = "true", paramLabel = "BOOL",
            converter = CommandLines.Switch.class,
            description = "log one line per HTTP request (logger mdp-gateway.access; default: off)")
    boolean accessLog;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
    boolean help;

    /** The command line of the gateway jar, its defaults read from {@code env}. */
    static CommandLine commandLine(GatewayFlags flags, Map<String, String> env) {
        CommandLine commandLine = CommandLines.create(flags, "mdp-gateway");
        commandLine.setDefaultValueProvider(new EnvironmentDefaults(env));
        return commandLine;
    }

    /**
     * Reads the flags from {@code args} and their twins from {@code env}, without running anything.
     *
     * @throws CommandLine.ParameterException naming the flag that is wrong
     */
    static GatewayFlags parse(String[] args, Map<String, String> env) {
        GatewayFlags flags = new GatewayFlags();
        commandLine(flags, env).parseArgs(args);
        if (!flags.help) {
            flags.config();
        }
        return flags;
    }

    static String envName(String flag) {
        return EnvironmentDefaults.envName(flag);
    }

    GatewayConfig config() {
        BrokerConfig brokerConfig = broker.toConfig(brokerBind);
        atLeast("--http-port", httpPort, 0);
        if (httpPort > 65535) {
            throw CommandLines.usageError(command, "--http-port must be at most 65535, got " + httpPort);
        }
        atLeast("--request-timeout-ms", requestTimeoutMs, 1);
        atLeast("--max-request-timeout-ms", maxRequestTimeoutMs, 1);
        atLeast("--max-body-bytes", maxBodyBytes, 1);
        atLeast("--max-buffered-parts", maxBufferedParts, 1);
        atLeast("--max-buffered-reply-bytes", maxBufferedReplyBytes, 1);
        atLeast("--ping-interval-ms", pingIntervalMs, 1);
        atLeast("--drain-delay-ms", drainDelayMs, 0);
        atLeast("--drain-grace-ms", drainGraceMs, 0);
        atLeast("--http-max-threads", httpMaxThreads, GatewayConfig.MIN_HTTP_MAX_THREADS);
        atLeast("--http-accept-queue", httpAcceptQueue, 1);
        AccessPolicy access = access();
        TlsSettings tls = tls();
        int redirect = GatewayConfig.NO_REDIRECT;
        if (httpRedirectPort != null) {
            if (tls == null) {
                throw CommandLines.usageError(command, "--http-redirect-port needs --tls-keystore: it redirects to https");
            }
            atLeast("--http-redirect-port", httpRedirectPort, 0);
            if (httpRedirectPort > 65535) {
                throw CommandLines.usageError(command, "--http-redirect-port must be at most 65535, got "
                        + httpRedirectPort);
            }
            redirect = httpRedirectPort;
        }
        try {
            return GatewayConfig.defaults(brokerConfig)
                    .withHttp(httpHost, httpPort)
                    .withTimeouts(Duration.ofMillis(requestTimeoutMs), Duration.ofMillis(maxRequestTimeoutMs))
                    .withMaxBodyBytes(maxBodyBytes)
                    .withReplyBuffer((int) Math.min(Integer.MAX_VALUE, maxBufferedParts), maxBufferedReplyBytes)
                    .withCorsOrigins(corsOrigins)
                    .withPingInterval(Duration.ofMillis(pingIntervalMs))
                    .withDrainDelay(Duration.ofMillis(drainDelayMs))
                    .withDrainGrace(Duration.ofMillis(drainGraceMs))
                    .withHttpMaxThreads(httpMaxThreads)
                    .withHttpAcceptQueue(httpAcceptQueue)
                    .withAccess(access)
                    .withTls(tls, redirect)
                    .withDemoWorkers(demoWorkers)
                    .withDemoWorkerBrokers(demoWorkersBrokers);
        } catch (IllegalArgumentException e) {
            throw CommandLines.usageError(command, e.getMessage());
        }
    }

    /** The credential sources, read now: a file that is missing or wrong stops the gateway here. */
    private AccessPolicy access() {
        if (jwtHs256SecretFile != null && jwtJwksFile != null) {
            throw CommandLines.usageError(command, "--jwt-hs256-secret-file and --jwt-jwks-file exclude each other");
        }
        if ((jwtAudience != null || jwtIssuer != null) && jwtHs256SecretFile == null && jwtJwksFile == null) {
            throw CommandLines.usageError(command, "--jwt-audience and --jwt-issuer need --jwt-hs256-secret-file or "
                    + "--jwt-jwks-file");
        }
        AccessPolicy policy = AccessPolicy.OPEN.withPublic(publicMetrics, publicDocs);
        if (apiKeysFile != null) {
            policy = policy.withApiKeys(fromFile("--api-keys-file", () -> ApiKeys.load(apiKeysFile)));
        }
        if (jwtHs256SecretFile != null) {
            policy = policy.withJwt(fromFile("--jwt-hs256-secret-file", () -> JwtVerifier.hs256(jwtHs256SecretFile, jwtAudience,
                    jwtIssuer)));
        }
        if (jwtJwksFile != null) {
            policy = policy.withJwt(fromFile("--jwt-jwks-file", () -> JwtVerifier.jwks(jwtJwksFile, jwtAudience, jwtIssuer)));
        }
        return policy;
    }

    private TlsSettings tls() {
        if (tlsKeystore == null && tlsKeystorePasswordFile == null) {
            return null;
        }
        if (tlsKeystore == null || tlsKeystorePasswordFile == null) {
            throw CommandLines.usageError(command, "--tls-keystore and --tls-keystore-password-file go together");
        }
        return fromFile("--tls-keystore", () -> TlsSettings.load(tlsKeystore, tlsKeystorePasswordFile));
    }

    private <T> T fromFile(String flag, java.util.function.Supplier<T> load) {
        try {
            return load.get();
        } catch (IllegalArgumentException e) {
            throw CommandLines.usageError(command, flag + ": " + e.getMessage());
        }
    }

    boolean accessLog() {
        return accessLog;
    }

    boolean help() {
        return help;
    }

    @Override
    public Integer call() {
        return GatewayMain.run(config(), accessLog);
    }

    private void atLeast(String flag, long value, long min) {
        CommandLines.atLeast(command, flag, value, min);
    }
}
