package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

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
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--max-message-bytes", "0"}, Map.of()));
        assertTrue(e.getMessage().contains("--max-message-bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GatewayFlags.parse(
                new String[] {"--max-message-bytes", "1000", "--max-queued-bytes", "999"}, Map.of()));
        assertTrue(e.getMessage().contains("max queued bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--max-queued-per-client", "0"}, Map.of()));
        assertTrue(e.getMessage().contains("--max-queued-per-client"), e.getMessage());
    }

    @Test
    void everyFlag_isRead() {
        GatewayConfig c = GatewayFlags.parse(new String[] {"--http-host", "127.0.0.1", "--http-port=0",
            "--broker-bind", "tcp://127.0.0.1:7000", "--broker-bind", "inproc://b", "--heartbeat-interval-ms", "100",
            "--heartbeat-liveness", "5", "--request-expiry-ms", "900", "--max-queued", "7", "--request-timeout-ms",
            "1000", "--max-request-timeout-ms", "2000", "--max-body-bytes", "10", "--cors-origin", "https://a",
            "--cors-origin", "https://b", "--ping-interval-ms", "50", "--drain-grace-ms", "0", "--demo-workers",
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
    void httpMaxThreads_hasADefault_aFlag_andAFloor() {
        assertEquals(GatewayConfig.DEFAULT_HTTP_MAX_THREADS, GatewayFlags.parse(new String[0], Map.of()).config().httpMaxThreads());
        assertEquals(40, GatewayFlags.parse(new String[] {"--http-max-threads", "40"}, Map.of()).config().httpMaxThreads());
        assertEquals(32, GatewayFlags.parse(new String[0], Map.of("MDPGW_HTTP_MAX_THREADS", "32")).config().httpMaxThreads());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--http-max-threads", "4"}, Map.of())).getMessage()
                .contains("--http-max-threads"));
    }

    @Test
    void badFlags_areRefusedNamingTheFlag() {
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--bogus"}, Map.of())).getMessage().contains("--bogus"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port", "x"}, Map.of())).getMessage().contains("--http-port"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--http-port"}, Map.of())).getMessage().contains("needs a value"));
        assertThrows(IllegalArgumentException.class,
                () -> GatewayFlags.parse(new String[] {"--request-timeout-ms", "9000", "--max-request-timeout-ms", "10"},
                        Map.of()));
        assertTrue(GatewayFlags.parse(new String[] {"--help"}, Map.of()).help());
    }
}
