package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

class BrokerFlagsTest {

    /** Every broker flag with a value that is not its default. */
    static final List<String> EVERY_FLAG = List.of("--bind", "tcp://127.0.0.1:7000", "--bind", "inproc://b",
            "--heartbeat-interval-ms", "100", "--heartbeat-liveness", "5", "--request-expiry-ms", "900",
            "--max-queued", "7", "--max-queued-total", "70", "--max-queued-per-client", "3",
            "--max-queued-bytes", "5000000000", "--max-message-bytes", "1000", "--max-resends", "1",
            "--busy-worker-expiry-ms", "60000", "--max-collected-reply-bytes", "4096");

    @Test
    void noFlags_areTheConfigDefaults() {
        BrokerFlags flags = BrokerFlags.parse();
        assertFalse(flags.help());
        assertEquals(BrokerConfig.defaults(BrokerConfig.DEFAULT_BIND), flags.config());
        assertNull(flags.config().busyWorkerExpiry());
    }

    @Test
    void everyFlag_isRead() {
        BrokerConfig c = BrokerFlags.parse(EVERY_FLAG.toArray(String[]::new)).config();
        assertEquals(List.of("tcp://127.0.0.1:7000", "inproc://b"), c.bindEndpoints());
        assertEquals(Duration.ofMillis(100), c.heartbeatInterval());
        assertEquals(5, c.heartbeatLiveness());
        assertEquals(Duration.ofMillis(900), c.requestExpiry());
        assertEquals(7, c.maxQueuedPerService());
        assertEquals(70, c.maxQueuedTotal());
        assertEquals(3, c.maxQueuedPerClient());
        assertEquals(5_000_000_000L, c.maxQueuedBytes());
        assertEquals(1000, c.maxMessageBytes());
        assertEquals(1, c.maxResends());
        assertEquals(Duration.ofMinutes(1), c.effectiveBusyWorkerExpiry());
        assertEquals(4096, c.maxCollectedReplyBytes());
    }

    @Test
    void valuesAttached_orGivenTwice_lastOneWins() {
        BrokerConfig c = BrokerFlags.parse("--max-queued=5", "--max-queued", "6", "--bind=tcp://*:1,tcp://*:2")
                .config();
        assertEquals(6, c.maxQueuedPerService());
        assertEquals(List.of("tcp://*:1", "tcp://*:2"), c.bindEndpoints());
    }

    @Test
    void unsetTotals_followTheBoundsTheyContain() {
        BrokerConfig c = BrokerFlags.parse("--max-queued", "200000", "--max-message-bytes", "1000000000").config();
        assertEquals(200_000, c.maxQueuedTotal());
        assertEquals(1_000_000_000L, c.maxQueuedBytes());
        ParameterException e = assertThrows(ParameterException.class,
                () -> BrokerFlags.parse("--max-queued", "200", "--max-queued-total", "100"));
        assertTrue(e.getMessage().contains("max queued in total"), e.getMessage());
    }

    @Test
    void badValues_areRefused_namingTheFlag() {
        for (List<String> args : List.of(List.of("--heartbeat-interval-ms", "0"), List.of("--heartbeat-liveness", "0"),
                List.of("--request-expiry-ms", "-1"), List.of("--max-queued", "-1"),
                List.of("--max-queued-total", "-1"), List.of("--max-queued-per-client", "0"),
                List.of("--max-queued-bytes", "0"), List.of("--max-message-bytes", "0"), List.of("--max-resends", "-1"),
                List.of("--busy-worker-expiry-ms", "0"), List.of("--max-collected-reply-bytes", "0"),
                List.of("--max-queued", "x"), List.of("--heartbeat-liveness", "3000000000"), List.of("--bind"))) {
            ParameterException e = assertThrows(ParameterException.class,
                    () -> BrokerFlags.parse(args.toArray(String[]::new)), args.toString());
            assertTrue(e.getMessage().contains(args.get(0)), e.getMessage());
        }
        assertEquals("--max-queued must be at least 0, got -1",
                assertThrows(ParameterException.class, () -> BrokerFlags.parse("--max-queued", "-1")).getMessage());
        assertTrue(assertThrows(ParameterException.class, () -> BrokerFlags.parse("--bogus"))
                .getMessage().contains("--bogus"));
    }

    @Test
    void aUsageError_exits2_namingTheFlag_andAHelpRequest_exits0() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = BrokerFlags.commandLine(new BrokerFlags());
        commandLine.setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute("--no-such-flag", "7"));
        assertTrue(err.toString().startsWith("mdp-broker: "), err.toString());
        assertTrue(err.toString().contains("--no-such-flag"), err.toString());
        assertTrue(err.toString().contains("Try --help."), err.toString());

        err.getBuffer().setLength(0);
        commandLine = BrokerFlags.commandLine(new BrokerFlags());
        commandLine.setErr(new PrintWriter(err));
        // Two flags that disagree: found when the config is built, still a usage error.
        assertEquals(2, commandLine.execute("--max-message-bytes", "1000", "--max-queued-bytes", "999"));
        assertTrue(err.toString().contains("max queued bytes"), err.toString());

        StringWriter out = new StringWriter();
        commandLine = BrokerFlags.commandLine(new BrokerFlags());
        commandLine.setOut(new PrintWriter(out));
        assertEquals(0, commandLine.execute("--help"));
        assertTrue(out.toString().startsWith("Usage: java -jar mdp-broker.jar [options]"), out.toString());
        assertTrue(BrokerFlags.parse("-h").help());
    }

    @Test
    void help_listsEveryFlag_withTheDefaultsOfTheConfig() {
        String help = BrokerFlags.commandLine(new BrokerFlags()).getUsageMessage(CommandLine.Help.Ansi.OFF)
                .replaceAll("\\s+", " ");
        for (int i = 0; i < EVERY_FLAG.size(); i += 2) {
            assertTrue(help.contains(EVERY_FLAG.get(i)), EVERY_FLAG.get(i) + " missing:\n" + help);
        }
        for (Object value : List.of(BrokerConfig.DEFAULT_BIND, BrokerConfig.DEFAULT_HEARTBEAT_INTERVAL.toMillis(),
                BrokerConfig.DEFAULT_HEARTBEAT_LIVENESS, BrokerConfig.DEFAULT_REQUEST_EXPIRY.toMillis(),
                BrokerConfig.DEFAULT_MAX_QUEUED_PER_SERVICE, BrokerConfig.DEFAULT_MAX_QUEUED_TOTAL,
                BrokerConfig.DEFAULT_MAX_QUEUED_PER_CLIENT, BrokerConfig.DEFAULT_MAX_QUEUED_BYTES,
                BrokerConfig.DEFAULT_MAX_MESSAGE_BYTES, BrokerConfig.DEFAULT_MAX_RESENDS,
                BrokerConfig.DEFAULT_MAX_COLLECTED_REPLY_BYTES)) {
            assertTrue(help.contains("(default: " + value), "no default " + value + ":\n" + help);
        }
        assertFalse(help.contains("${"), help);
    }

    @Test
    void securityFlags_makeTheBrokerSecurity_andOnesThatWouldFailOpenAreRefused() {
        BrokerSecurity curve = BrokerFlags.parse("--curve-secret-key-file", "/k/broker.key_secret",
                "--curve-allowed-dir", "/k/allowed", "--acl", "/k/acl").config().security();
        assertEquals(BrokerSecurity.curve(java.nio.file.Path.of("/k/broker.key_secret"),
                java.nio.file.Path.of("/k/allowed"), java.nio.file.Path.of("/k/acl")), curve);
        assertEquals(BrokerSecurity.LOOPBACK_ONLY, BrokerFlags.parse().config().security(), "safe by default");
        assertTrue(BrokerFlags.parse("--allow-insecure-remote").config().security().allowInsecureRemote());
        for (String[] args : new String[][] {
                {"--curve-secret-key-file", "/k/broker.key_secret"},
                {"--curve-allowed-dir", "/k/allowed"},
                {"--acl", "/k/acl"},
                {"--allow-insecure-remote", "--curve-secret-key-file", "/k/s", "--curve-allowed-dir", "/k/a"}}) {
            org.junit.jupiter.api.Assertions.assertThrows(picocli.CommandLine.ParameterException.class,
                    () -> BrokerFlags.parse(args), String.join(" ", args));
        }
    }

    @Test
    void keygen_writesAKeyPairThatLoadsBack(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.io.StringWriter out = new java.io.StringWriter();
        picocli.CommandLine commandLine = BrokerFlags.commandLine(new BrokerFlags());
        commandLine.setOut(new java.io.PrintWriter(out));
        commandLine.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
        assertEquals(0, commandLine.execute("keygen", "worker1", dir.resolve("certs").toString()));
        java.nio.file.Path secret = dir.resolve("certs/worker1.key_secret");
        org.mdpgateway.mdp.security.CurveCertificate pair =
                org.mdpgateway.mdp.security.CurveCertificate.loadSecret(secret);
        assertEquals(pair.publicKey(), org.mdpgateway.mdp.security.CurveCertificate.load(
                dir.resolve("certs/worker1.key")).publicKey());
        assertEquals(null, org.mdpgateway.mdp.security.CurveCertificate.load(dir.resolve("certs/worker1.key"))
                .secretKey(), "the public certificate holds no secret");
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                java.nio.file.Files.getPosixFilePermissions(secret)));
        assertTrue(out.toString().contains("worker1.key_secret"), out.toString());
        assertEquals(1, commandLine.execute("keygen", "worker1", dir.resolve("certs").toString()),
                "an existing certificate is not overwritten");
    }
}
