package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.OctetSequenceKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.broker.BrokerConfig;
import org.mdpgateway.broker.BrokerFlags;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;

class GatewayFlagsTest {

    @Test
    void defaults_matchTheReadme() {
        GatewayConfig c = GatewayFlags.parse(new String[0], Map.of()).config();
        assertEquals("0.0.0.0", c.httpHost());
        assertEquals(8080, c.httpPort());
        assertEquals(List.of("tcp://*:5555"), c.broker().bindEndpoints());
        assertEquals(Duration.ofMillis(2500), c.broker().heartbeatInterval());
        assertEquals(3, c.broker().heartbeatLiveness());
        assertEquals(Duration.ofSeconds(30), c.broker().requestExpiry());
        assertEquals(Duration.ofSeconds(30), c.requestTimeout());
        assertEquals(16L * 1024 * 1024, c.maxBodyBytes());
        assertFalse(c.demoWorkers());
        assertEquals(c.broker().workerExpiry(), c.broker().effectiveBusyWorkerExpiry());
        assertEquals(16L << 20, c.broker().maxCollectedReplyBytes());
        assertEquals(1000, c.broker().maxQueuedPerClient());
        assertEquals(256L << 20, c.broker().maxQueuedBytes());
        assertEquals(64L << 20, c.broker().maxMessageBytes());
    }

    @Test
    void byteLimits_thatCannotWork_areRefused_namingTheFlag() {
        ParameterException e = assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--max-message-bytes", "0"}, Map.of()));
        assertTrue(e.getMessage().contains("--max-message-bytes"), e.getMessage());
        e = assertThrows(ParameterException.class, () -> GatewayFlags.parse(
                new String[] {"--max-message-bytes", "1000", "--max-queued-bytes", "999"}, Map.of()));
        assertTrue(e.getMessage().contains("max queued bytes"), e.getMessage());
        e = assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--max-queued-per-client", "0"}, Map.of()));
        assertTrue(e.getMessage().contains("--max-queued-per-client"), e.getMessage());
    }

    @Test
    void everyFlag_isRead() {
        GatewayConfig c = GatewayFlags.parse(new String[] {"--http-host", "127.0.0.1", "--http-port=0",
            "--broker-bind", "tcp://127.0.0.1:7000", "--broker-bind", "inproc://b", "--heartbeat-interval-ms", "100",
            "--heartbeat-liveness", "5", "--request-expiry-ms", "900", "--max-queued", "7", "--request-timeout-ms",
            "1000", "--max-request-timeout-ms", "2000", "--max-body-bytes", "10", "--cors-origin", "https://a",
            "--cors-origin", "https://b", "--ping-interval-ms", "50", "--drain-grace-ms", "0", "--drain-delay-ms", "250", "--demo-workers",
            "--max-queued-total", "70", "--max-resends", "1", "--busy-worker-expiry-ms", "60000",
            "--max-collected-reply-bytes", "4096", "--max-queued-per-client", "3", "--max-queued-bytes", "5000000000",
            "--max-message-bytes", "1000"},
                Map.of()).config();
        assertEquals(3, c.broker().maxQueuedPerClient());
        assertEquals(5_000_000_000L, c.broker().maxQueuedBytes());
        assertEquals(1000, c.broker().maxMessageBytes());
        assertEquals(70, c.broker().maxQueuedTotal());
        assertEquals(1, c.broker().maxResends());
        assertEquals(Duration.ofMinutes(1), c.broker().effectiveBusyWorkerExpiry());
        assertEquals(4096, c.broker().maxCollectedReplyBytes());
        assertEquals("127.0.0.1", c.httpHost());
        assertEquals(0, c.httpPort());
        assertEquals(List.of("tcp://127.0.0.1:7000", "inproc://b"), c.broker().bindEndpoints());
        assertEquals(Duration.ofMillis(100), c.broker().heartbeatInterval());
        assertEquals(5, c.broker().heartbeatLiveness());
        assertEquals(Duration.ofMillis(900), c.broker().requestExpiry());
        assertEquals(7, c.broker().maxQueuedPerService());
        assertEquals(Duration.ofMillis(1000), c.requestTimeout());
        assertEquals(Duration.ofMillis(2000), c.maxRequestTimeout());
        assertEquals(10, c.maxBodyBytes());
        assertEquals(List.of("https://a", "https://b"), c.corsOrigins());
        assertEquals(Duration.ofMillis(50), c.pingInterval());
        assertEquals(Duration.ZERO, c.drainGrace());
        assertEquals(Duration.ofMillis(250), c.drainDelay());
        assertTrue(c.demoWorkers());
    }

    @Test
    void environmentTwins_apply_andTheCommandLineWins() {
        Map<String, String> env = Map.of("MDPGW_HTTP_PORT", "9000", "MDPGW_BROKER_BIND", "tcp://*:1,tcp://*:2",
                "MDPGW_DEMO_WORKERS", "true", "MDPGW_REQUEST_TIMEOUT_MS", "5000");
        GatewayConfig fromEnv = GatewayFlags.parse(new String[0], env).config();
        assertEquals(9000, fromEnv.httpPort());
        assertEquals(List.of("tcp://*:1", "tcp://*:2"), fromEnv.broker().bindEndpoints());
        assertTrue(fromEnv.demoWorkers());
        assertEquals(Duration.ofSeconds(5), fromEnv.requestTimeout());
        GatewayConfig overridden = GatewayFlags.parse(new String[] {"--http-port", "9100", "--broker-bind",
            "tcp://*:3"}, env).config();
        assertEquals(9100, overridden.httpPort());
        assertEquals(List.of("tcp://*:3"), overridden.broker().bindEndpoints());
        assertEquals("MDPGW_MAX_REQUEST_TIMEOUT_MS", GatewayFlags.envName("--max-request-timeout-ms"));
    }

    @Test
    void accessLog_isOffUnlessAskedFor_onTheCommandLineOrInTheEnvironment() {
        assertFalse(GatewayFlags.parse(new String[0], Map.of()).accessLog());
        assertTrue(GatewayFlags.parse(new String[] {"--access-log"}, Map.of()).accessLog());
        assertTrue(GatewayFlags.parse(new String[0], Map.of("MDPGW_ACCESS_LOG", "true")).accessLog());
        assertFalse(GatewayFlags.parse(new String[] {"--access-log=false"}, Map.of("MDPGW_ACCESS_LOG", "1")).accessLog());
    }

    @Test
    void drainDelay_isZeroByDefault_hasAFlag_anEnvironmentTwin_andIsNeverNegative() {
        assertEquals(Duration.ZERO, GatewayFlags.parse(new String[0], Map.of()).config().drainDelay());
        assertEquals(Duration.ofMillis(3000),
                GatewayFlags.parse(new String[] {"--drain-delay-ms", "3000"}, Map.of()).config().drainDelay());
        assertEquals(Duration.ofMillis(4000),
                GatewayFlags.parse(new String[0], Map.of("MDPGW_DRAIN_DELAY_MS", "4000")).config().drainDelay());
        assertEquals(Duration.ofMillis(10), GatewayFlags.parse(new String[] {"--drain-delay-ms", "10"},
                Map.of("MDPGW_DRAIN_DELAY_MS", "4000")).config().drainDelay());
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--drain-delay-ms", "-1"}, Map.of())).getMessage()
                .contains("--drain-delay-ms"));
        assertThrows(IllegalArgumentException.class, () -> GatewayConfig.defaults(
                BrokerConfig.defaults("tcp://*:5555")).withDrainDelay(Duration.ofMillis(-1)));
    }

    @Test
    void httpAcceptQueue_hasADefault_aFlag_andAnEnvironmentTwin() {
        assertEquals(GatewayConfig.DEFAULT_HTTP_ACCEPT_QUEUE,
                GatewayFlags.parse(new String[0], Map.of()).config().httpAcceptQueue());
        assertEquals(4096, GatewayFlags.parse(new String[] {"--http-accept-queue", "4096"}, Map.of()).config()
                .httpAcceptQueue());
        assertEquals(64, GatewayFlags.parse(new String[0], Map.of("MDPGW_HTTP_ACCEPT_QUEUE", "64")).config()
                .httpAcceptQueue());
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-accept-queue", "0"}, Map.of())).getMessage()
                .contains("--http-accept-queue"));
    }

    @Test
    void httpMaxThreads_hasADefault_aFlag_andAFloor() {
        assertEquals(GatewayConfig.DEFAULT_HTTP_MAX_THREADS, GatewayFlags.parse(new String[0], Map.of()).config().httpMaxThreads());
        assertEquals(40, GatewayFlags.parse(new String[] {"--http-max-threads", "40"}, Map.of()).config().httpMaxThreads());
        assertEquals(32, GatewayFlags.parse(new String[0], Map.of("MDPGW_HTTP_MAX_THREADS", "32")).config().httpMaxThreads());
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-max-threads", "4"}, Map.of())).getMessage()
                .contains("--http-max-threads"));
    }

    @Test
    void badFlags_areRefusedNamingTheFlag() {
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--bogus"}, Map.of())).getMessage().contains("--bogus"));
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port", "x"}, Map.of())).getMessage().contains("--http-port"));
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port"}, Map.of())).getMessage().contains("--http-port"));
        assertEquals("--http-port must be at least 0, got -1", assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port", "-1"}, Map.of())).getMessage());
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port", "70000"}, Map.of())).getMessage()
                .contains("--http-port"));
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--drain-grace-ms", "-1"}, Map.of())).getMessage()
                .contains("--drain-grace-ms"));
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"stray"}, Map.of())).getMessage().contains("stray"));
        assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--request-timeout-ms", "9000", "--max-request-timeout-ms", "10"},
                        Map.of()));
        assertTrue(GatewayFlags.parse(new String[] {"--help"}, Map.of()).help());
    }

    @Test
    void everyBrokerFlag_isAGatewayFlag_withTheSameMeaning() {
        Set<String> brokerFlags = optionNames(BrokerFlags.commandLine(new BrokerFlags()));
        Set<String> gatewayFlags = optionNames(GatewayFlags.commandLine(new GatewayFlags(), Map.of()));
        assertTrue(gatewayFlags.containsAll(brokerFlags), "the gateway lacks " + brokerFlags + " - " + gatewayFlags);

        // Every broker flag with a value unlike its default; --bind is --broker-bind on the gateway.
        List<String> args = List.of("--bind", "tcp://127.0.0.1:7000", "--bind", "inproc://b",
                "--heartbeat-interval-ms", "100", "--heartbeat-liveness", "5", "--request-expiry-ms", "900",
                "--max-queued", "7", "--max-queued-total", "70", "--max-queued-per-client", "3",
                "--max-queued-bytes", "5000000000", "--max-message-bytes", "1000", "--max-resends", "1",
                "--busy-worker-expiry-ms", "60000", "--max-collected-reply-bytes", "4096",
                "--curve-secret-key-file", "/keys/broker.key_secret", "--curve-allowed-dir", "/keys/allowed",
                "--acl", "/etc/mdp/acl");
        Set<String> given = new TreeSet<>();
        for (int i = 0; i < args.size(); i += 2) {
            given.add(args.get(i));
        }
        // --allow-insecure-remote cannot go with CURVE; it is checked on its own below.
        brokerFlags.removeAll(Set.of("-h", "--help", "--allow-insecure-remote"));
        assertEquals(brokerFlags, given, "the test should give every broker flag");
        assertEquals(BrokerFlags.parse("--allow-insecure-remote").config(),
                GatewayFlags.parse(new String[] {"--allow-insecure-remote"}, Map.of()).config().broker());
        assertTrue(GatewayFlags.parse(new String[] {"--allow-insecure-remote"}, Map.of()).config().broker().security()
                .allowInsecureRemote());
        BrokerConfig standalone = BrokerFlags.parse(args.toArray(String[]::new)).config();
        assertEquals(standalone, GatewayFlags.parse(args.toArray(String[]::new), Map.of()).config().broker());
        List<String> renamed = new ArrayList<>(args);
        renamed.replaceAll(a -> a.equals("--bind") ? "--broker-bind" : a);
        assertEquals(standalone, GatewayFlags.parse(renamed.toArray(String[]::new), Map.of()).config().broker());
        assertEquals(BrokerFlags.parse().config(), GatewayFlags.parse(new String[0], Map.of()).config().broker());
    }

    @Test
    void brokerFlags_haveEnvironmentTwinsToo_andTheCommandLineWins() {
        Map<String, String> env = new HashMap<>();
        env.put("MDPGW_MAX_QUEUED_TOTAL", "200000");
        env.put("MDPGW_MAX_MESSAGE_BYTES", " 1000 ");
        env.put("MDPGW_BUSY_WORKER_EXPIRY_MS", "60000");
        env.put("MDPGW_CORS_ORIGIN", "https://a, ,https://b,");
        env.put("MDPGW_HTTP_HOST", "   ");
        BrokerConfig b = GatewayFlags.parse(new String[0], env).config().broker();
        assertEquals(200_000, b.maxQueuedTotal());
        assertEquals(1000, b.maxMessageBytes());
        assertEquals(Duration.ofMinutes(1), b.effectiveBusyWorkerExpiry());
        GatewayConfig c = GatewayFlags.parse(new String[0], env).config();
        assertEquals(List.of("https://a", "https://b"), c.corsOrigins());
        assertEquals(GatewayConfig.DEFAULT_HTTP_HOST, c.httpHost(), "a blank variable is unset");
        b = GatewayFlags.parse(new String[] {"--max-queued-total=250000", "--max-message-bytes", "2000"}, env)
                .config().broker();
        assertEquals(250_000, b.maxQueuedTotal());
        assertEquals(2000, b.maxMessageBytes());
        ParameterException e = assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[0], Map.of("MDPGW_MAX_RESENDS", "-1")));
        assertTrue(e.getMessage().contains("--max-resends"), e.getMessage());
        e = assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[0], Map.of("MDPGW_HEARTBEAT_LIVENESS", "many")));
        assertTrue(e.getMessage().contains("--heartbeat-liveness"), e.getMessage());
    }

    @Test
    void switches_takeOneTrueOrYes_onTheCommandLineAndInTheEnvironment() {
        assertTrue(GatewayFlags.parse(new String[] {"--demo-workers=yes"}, Map.of()).config().demoWorkers());
        assertTrue(GatewayFlags.parse(new String[] {"--demo-workers=1"}, Map.of()).config().demoWorkers());
        assertFalse(GatewayFlags.parse(new String[] {"--demo-workers=false"}, Map.of()).config().demoWorkers());
        assertFalse(GatewayFlags.parse(new String[] {"--demo-workers=no"}, Map.of("MDPGW_DEMO_WORKERS", "1"))
                .config().demoWorkers());
        assertTrue(GatewayFlags.parse(new String[0], Map.of("MDPGW_DEMO_WORKERS", "YES")).config().demoWorkers());
        assertFalse(GatewayFlags.parse(new String[0], Map.of("MDPGW_DEMO_WORKERS", "0")).config().demoWorkers());
        assertTrue(GatewayFlags.parse(new String[] {"--demo-workers"}, Map.of("MDPGW_DEMO_WORKERS", "0"))
                .config().demoWorkers());
    }

    @Test
    void help_listsEveryFlag_withTheDefaultsOfTheConfigs() {
        CommandLine commandLine = GatewayFlags.commandLine(new GatewayFlags(), Map.of());
        String help = commandLine.getUsageMessage(CommandLine.Help.Ansi.OFF).replaceAll("\\s+", " ");
        for (String flag : optionNames(commandLine)) {
            assertTrue(help.contains(flag), flag + " missing:\n" + help);
        }
        for (Object value : List.of(GatewayConfig.DEFAULT_HTTP_HOST, GatewayConfig.DEFAULT_HTTP_PORT,
                BrokerConfig.DEFAULT_BIND, BrokerConfig.DEFAULT_HEARTBEAT_INTERVAL.toMillis(),
                BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL, BrokerConfig.DEFAULT_MAX_MESSAGE_BYTES,
                BrokerConfig.DEFAULT_MAX_COLLECTED_REPLY_BYTES, GatewayConfig.DEFAULT_REQUEST_TIMEOUT.toMillis(),
                GatewayConfig.DEFAULT_MAX_REQUEST_TIMEOUT.toMillis(), GatewayConfig.DEFAULT_MAX_BODY_BYTES,
                GatewayConfig.DEFAULT_MAX_BUFFERED_PARTS, GatewayConfig.DEFAULT_MAX_BUFFERED_REPLY_BYTES,
                GatewayConfig.DEFAULT_PING_INTERVAL.toMillis(), GatewayConfig.DEFAULT_DRAIN_GRACE.toMillis(),
                GatewayConfig.DEFAULT_DRAIN_DELAY.toMillis(),
                GatewayConfig.DEFAULT_HTTP_MAX_THREADS, GatewayConfig.DEFAULT_HTTP_ACCEPT_QUEUE)) {
            assertTrue(help.contains("(default: " + value), "no default " + value + ":\n" + help);
        }
        assertTrue(help.contains("MDPGW_HTTP_PORT"), help);
        assertFalse(help.contains("${"), help);
    }

    @Test
    void aUsageError_exits2_namingTheFlag_andAHelpRequest_exits0() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = GatewayFlags.commandLine(new GatewayFlags(), Map.of("MDPGW_HTTP_PORT", "x"));
        commandLine.setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute());
        assertTrue(err.toString().startsWith("mdp-gateway: "), err.toString());
        assertTrue(err.toString().contains("--http-port"), err.toString());
        assertTrue(err.toString().contains("Try --help."), err.toString());

        err.getBuffer().setLength(0);
        commandLine = GatewayFlags.commandLine(new GatewayFlags(), Map.of());
        commandLine.setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute("--request-timeout-ms", "9000", "--max-request-timeout-ms", "10"));
        assertTrue(err.toString().contains("max request timeout"), err.toString());

        StringWriter out = new StringWriter();
        commandLine = GatewayFlags.commandLine(new GatewayFlags(), Map.of());
        commandLine.setOut(new PrintWriter(out));
        assertEquals(0, commandLine.execute("-h"));
        assertTrue(out.toString().startsWith("Usage: java -jar mdp-gateway.jar [options]"), out.toString());
    }

    // ---- credentials and TLS ------------------------------------------------------------------

    @TempDir
    Path tmp;

    private static String refusal(String[] args, Map<String, String> env) {
        return assertThrows(ParameterException.class, () -> GatewayFlags.parse(args, env)).getMessage();
    }

    private static String refusal(String... args) {
        return refusal(args, Map.of());
    }

    @Test
    void withoutCredentialFlags_nothingIsAsked_andThePortIsPlain() {
        GatewayConfig c = GatewayFlags.parse(new String[0], Map.of()).config();
        assertFalse(c.access().requiresCredentials());
        assertFalse(c.isTls());
        assertEquals(GatewayConfig.NO_REDIRECT, c.httpRedirectPort());
    }

    @Test
    void apiKeysFile_isRead_fromTheFlagOrItsTwin() throws Exception {
        Path keys = TestCredentials.write(tmp.resolve("keys"), "# ops\n\n" + TestCredentials.keyLine("a", "echo")
                + " # the echo client\n" + TestCredentials.keyLine("b", "payments.*,echo") + "\n");
        GatewayConfig c = GatewayFlags.parse(new String[] {"--api-keys-file", keys.toString()}, Map.of()).config();
        assertEquals(2, c.access().apiKeys().size());
        assertTrue(c.access().apiKeys().lookup("b").orElseThrow().covers("payments.refund"));
        assertTrue(c.access().apiKeys().lookup("c").isEmpty());
        c = GatewayFlags.parse(new String[0], Map.of("MDPGW_API_KEYS_FILE", keys.toString())).config();
        assertEquals(2, c.access().apiKeys().size());
    }

    @Test
    void apiKeysFile_thatIsMissingMalformedOrEmpty_stopsStartup_namingFileAndLine() throws Exception {
        Path keys = TestCredentials.write(tmp.resolve("keys"), "# ops\n" + TestCredentials.keyLine("a", "echo")
                + "\nnot-a-hash echo\n");
        String message = refusal("--api-keys-file", keys.toString());
        assertTrue(message.startsWith("--api-keys-file: " + keys + " line 3: "), message);
        TestCredentials.write(keys, TestCredentials.keyLine("a", "echo") + " extra\n");
        assertTrue(refusal("--api-keys-file", keys.toString()).contains(keys + " line 1"));
        TestCredentials.write(keys, TestCredentials.keyLine("a", "echo,,count") + "\n");
        assertTrue(refusal("--api-keys-file", keys.toString()).contains("empty service glob"));
        TestCredentials.write(keys, "# nobody yet\n\n");
        assertTrue(refusal("--api-keys-file", keys.toString()).contains("has no key"));
        message = refusal(new String[0], Map.of("MDPGW_API_KEYS_FILE", tmp.resolve("absent").toString()));
        assertTrue(message.startsWith("--api-keys-file: cannot read the API keys file " + tmp.resolve("absent")),
                message);
    }

    @Test
    void jwtSecretFile_isRead_andAShortOneIsRefused() throws Exception {
        Path secret = TestCredentials.write(tmp.resolve("secret"), "0123456789abcdef0123456789abcdef\n");
        GatewayConfig c = GatewayFlags.parse(new String[] {"--jwt-hs256-secret-file", secret.toString()}, Map.of())
                .config();
        assertTrue(c.access().jwt() != null && c.access().requiresCredentials());
        c = GatewayFlags.parse(new String[0], Map.of("MDPGW_JWT_HS256_SECRET_FILE", secret.toString())).config();
        assertTrue(c.access().jwt() != null);
        TestCredentials.write(secret, "0123456789abcdef0123456789abcde\n");
        String message = refusal("--jwt-hs256-secret-file", secret.toString());
        assertTrue(message.startsWith("--jwt-hs256-secret-file: the JWT secret in " + secret + " is 31 bytes"), message);
        assertTrue(refusal("--jwt-hs256-secret-file", tmp.resolve("absent").toString())
                .contains("cannot read the JWT secret file"));
    }

    @Test
    void jwksFile_isRead_andOneWithoutPublicKeysIsRefused() throws Exception {
        RSAKey rsa = new RSAKeyGenerator(2048).keyID("k").generate();
        Path jwks = TestCredentials.write(tmp.resolve("jwks.json"), new JWKSet(rsa.toPublicJWK()).toString());
        assertTrue(GatewayFlags.parse(new String[] {"--jwt-jwks-file", jwks.toString()}, Map.of()).config()
                .access().jwt() != null);
        assertTrue(GatewayFlags.parse(new String[0], Map.of("MDPGW_JWT_JWKS_FILE", jwks.toString())).config()
                .access().jwt() != null);
        Path secret = TestCredentials.write(tmp.resolve("secret"), "0123456789abcdef0123456789abcdef");
        assertTrue(refusal("--jwt-jwks-file", jwks.toString(), "--jwt-hs256-secret-file", secret.toString())
                .contains("exclude each other"));
        Path symmetric = TestCredentials.write(tmp.resolve("oct.json"),
                new JWKSet(new OctetSequenceKeyGenerator(256).generate()).toString(false));
        assertTrue(refusal("--jwt-jwks-file", symmetric.toString()).contains("has no RSA or EC public key"));
        Path notJwks = TestCredentials.write(tmp.resolve("not.json"), "{\"keys\": 7}");
        String message = refusal("--jwt-jwks-file", notJwks.toString());
        assertTrue(message.startsWith("--jwt-jwks-file: the file " + notJwks + " is not a JWK Set"), message);
    }

    @Test
    void publicSwitches_onTheCommandLineAndInTheEnvironment() {
        GatewayConfig c = GatewayFlags.parse(new String[] {"--public-metrics", "--public-docs"}, Map.of()).config();
        assertTrue(c.access().publicMetrics() && c.access().publicDocs());
        c = GatewayFlags.parse(new String[0], Map.of("MDPGW_PUBLIC_METRICS", "1", "MDPGW_PUBLIC_DOCS", "yes")).config();
        assertTrue(c.access().publicMetrics() && c.access().publicDocs());
        c = GatewayFlags.parse(new String[0], Map.of()).config();
        assertFalse(c.access().publicMetrics() || c.access().publicDocs());
    }

    @Test
    void tlsFlags_openTheKeyStore_andRefuseWhatCannotWork() throws Exception {
        Path store = TestCredentials.keystore(tmp);
        Path password = TestCredentials.passwordFile(tmp);
        GatewayConfig c = GatewayFlags.parse(new String[] {"--tls-keystore", store.toString(),
            "--tls-keystore-password-file", password.toString(), "--http-redirect-port", "8081"}, Map.of()).config();
        assertTrue(c.isTls());
        assertEquals(8081, c.httpRedirectPort());
        c = GatewayFlags.parse(new String[0], Map.of("MDPGW_TLS_KEYSTORE", store.toString(),
                "MDPGW_TLS_KEYSTORE_PASSWORD_FILE", password.toString(), "MDPGW_HTTP_REDIRECT_PORT", "0")).config();
        assertTrue(c.isTls());
        assertEquals(0, c.httpRedirectPort());

        Path wrong = TestCredentials.write(tmp.resolve("wrong"), "not the password\n");
        String message = refusal("--tls-keystore", store.toString(), "--tls-keystore-password-file", wrong.toString());
        assertTrue(message.startsWith("--tls-keystore: cannot open the PKCS12 key store " + store), message);
        assertTrue(refusal("--tls-keystore", store.toString()).contains("go together"));
        assertTrue(refusal("--tls-keystore-password-file", password.toString()).contains("go together"));
        assertTrue(refusal("--tls-keystore", tmp.resolve("absent.p12").toString(), "--tls-keystore-password-file",
                password.toString()).contains("absent.p12"));
        assertTrue(refusal("--tls-keystore", store.toString(), "--tls-keystore-password-file",
                tmp.resolve("absent").toString()).contains("cannot read the key store password file"));
        assertTrue(refusal("--http-redirect-port", "8081").contains("needs --tls-keystore"));
        assertTrue(refusal("--tls-keystore", store.toString(), "--tls-keystore-password-file", password.toString(),
                "--http-redirect-port", "-1").contains("--http-redirect-port must be at least 0"));
        assertTrue(refusal("--tls-keystore", store.toString(), "--tls-keystore-password-file", password.toString(),
                "--http-redirect-port", "8080").contains("must differ from the HTTP port"));
    }

    private static Set<String> optionNames(CommandLine commandLine) {
        Set<String> names = new TreeSet<>();
        for (OptionSpec option : commandLine.getCommandSpec().options()) {
            names.addAll(List.of(option.names()));
        }
        return names;
    }

    @Test
    void keygen_isASubcommandOfTheGatewayToo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        CommandLine commandLine = GatewayFlags.commandLine(new GatewayFlags(), Map.of());
        commandLine.setOut(new java.io.PrintWriter(new java.io.StringWriter()));
        assertEquals(0, commandLine.execute("keygen", "gw", dir.toString()));
        org.mdpgateway.mdp.security.CurveCertificate pair =
                org.mdpgateway.mdp.security.CurveCertificate.loadSecret(dir.resolve("gw.key_secret"));
        assertEquals(pair.publicKey(),
                org.mdpgateway.mdp.security.CurveCertificate.load(dir.resolve("gw.key")).publicKey());
    }

    @Test
    void demoWorkersBrokers_turnTheDemoWorkersOn_onOtherBrokers() {
        GatewayConfig config = GatewayFlags.parse(
                new String[] {"--demo-workers-brokers", "tcp://mdp-broker:5555,tcp://10.0.0.9:5555"}, Map.of()).config();
        assertTrue(config.demoWorkers());
        assertEquals(List.of("tcp://mdp-broker:5555", "tcp://10.0.0.9:5555"), config.demoWorkerBrokers());
        assertEquals(List.of("tcp://b:1"), GatewayFlags.parse(new String[0],
                Map.of("MDPGW_DEMO_WORKERS_BROKERS", "tcp://b:1")).config().demoWorkerBrokers());
        assertEquals(List.of(), GatewayFlags.parse(new String[] {"--demo-workers"}, Map.of()).config()
                .demoWorkerBrokers(), "by default they serve the embedded broker");
    }

    @Test
    void jwtAudienceAndIssuer_needAJwtSource() {
        assertTrue(assertThrows(ParameterException.class,
                () -> GatewayFlags.parse(new String[] {"--jwt-audience", "mdp-gateway"}, Map.of())).getMessage()
                .contains("--jwt-audience"));
    }
}
