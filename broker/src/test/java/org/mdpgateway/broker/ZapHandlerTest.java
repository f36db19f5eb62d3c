package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The loopback-only policy, on the addresses ZeroMQ's ZAP requests carry. */
class ZapHandlerTest {
    @Test
    void loopbackAddresses_ofBothFamilies_areLetIn() {
        assertTrue(ZapHandler.isLoopback("127.0.0.1"));
        assertTrue(ZapHandler.isLoopback("127.1.2.3"));
        assertTrue(ZapHandler.isLoopback("::1"));
        assertTrue(ZapHandler.isLoopback("0:0:0:0:0:0:0:1"));
        assertTrue(ZapHandler.isLoopback("::ffff:127.0.0.1"));
    }

    @Test
    void everyOtherAddress_andAnythingThatIsNotALiteral_isKeptOut() {
        assertFalse(ZapHandler.isLoopback("192.0.2.2"));
        assertFalse(ZapHandler.isLoopback("10.0.0.1"));
        assertFalse(ZapHandler.isLoopback("0.0.0.0"));
        assertFalse(ZapHandler.isLoopback("fe80::1"));
        assertFalse(ZapHandler.isLoopback("::ffff:10.0.0.1"));
        assertFalse(ZapHandler.isLoopback("localhost"), "never resolved: a name could point anywhere");
        assertFalse(ZapHandler.isLoopback(""));
        assertFalse(ZapHandler.isLoopback(null));
    }
}
