package org.mdpgateway.mdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ServiceGlobTest {
    @Test
    void literalNamesMatchOnlyThemselves() {
        assertTrue(ServiceGlob.of("echo").matches("echo"));
        assertFalse(ServiceGlob.of("echo").matches("echo2"));
        assertFalse(ServiceGlob.of("echo").matches("ech"));
        assertFalse(ServiceGlob.of("echo").matches(""));
    }

    @Test
    void aStarCoversAnyRun_includingNone() {
        assertTrue(ServiceGlob.of("*").matches("anything.at.all"));
        assertTrue(ServiceGlob.of("*").matches(""));
        assertTrue(ServiceGlob.of("payments.*").matches("payments.refund"));
        assertTrue(ServiceGlob.of("payments.*").matches("payments."));
        assertFalse(ServiceGlob.of("payments.*").matches("payment.refund"));
        assertTrue(ServiceGlob.of("*.v2").matches("orders.v2"));
        assertFalse(ServiceGlob.of("*.v2").matches("orders.v2.beta"));
        assertTrue(ServiceGlob.of("a*b*c").matches("aXXbYYc"));
        assertTrue(ServiceGlob.of("a*b*c").matches("abbbc"));
        assertFalse(ServiceGlob.of("a*b*c").matches("aXXcYYb"));
        assertTrue(ServiceGlob.of("a**").matches("a"));
    }

    @Test
    void aQuestionMarkCoversExactlyOneCharacter() {
        assertTrue(ServiceGlob.of("svc?").matches("svc1"));
        assertFalse(ServiceGlob.of("svc?").matches("svc"));
        assertFalse(ServiceGlob.of("svc?").matches("svc12"));
    }

    @Test
    void anEmptyGlobIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ServiceGlob.of(""));
        assertEquals("a*", ServiceGlob.of("a*").toString());
    }
}
