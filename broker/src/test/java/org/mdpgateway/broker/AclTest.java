package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.security.CurveCertificate;

class AclTest {
    private final String alice = CurveCertificate.generate().publicKey();
    private final String bob = CurveCertificate.generate().publicKey();

    @Test
    void rulesCoverAServiceGlobAndAKey_byKind() {
        Acl acl = Acl.parse("worker payments.* " + alice + "\nclient payments.refund " + bob + "\n", "acl");
        assertTrue(acl.mayServe(alice, "payments.refund"));
        assertFalse(acl.mayServe(bob, "payments.refund"), "a client rule does not let a key serve");
        assertFalse(acl.mayServe(alice, "orders"));
        assertTrue(acl.mayCall(bob, "payments.refund"));
        assertFalse(acl.mayCall(alice, "payments.refund"), "a worker rule does not let a key call");
        assertFalse(acl.mayCall(bob, "payments.charge"));
        assertEquals(2, acl.size());
    }

    @Test
    void aStarKeyCoversEveryAllowedPeer_andMmiIsOpenToEveryClient() {
        Acl acl = Acl.parse("client public.* *\n", "acl");
        assertTrue(acl.mayCall(alice, "public.time"));
        assertTrue(acl.mayCall(bob, "public.time"));
        assertFalse(acl.mayCall(alice, "private"));
        assertTrue(acl.mayCall(alice, "mmi.service"), "8/MMI is the broker's own, open to all");
        assertFalse(acl.mayServe(alice, "public.time"));
    }

    @Test
    void commentsAndBlankLinesAreSkipped_butAHashInsideAKeyIsPartOfIt() {
        String keyWithHash = "0123456789012345678901234567890123456#89"; // '#' is a Z85 digit
        Acl acl = Acl.parse("# rules\n\n  worker svc " + keyWithHash + "   # trailing comment\n", "acl");
        assertTrue(acl.mayServe(keyWithHash, "svc"));
        assertEquals(1, acl.size());
    }

    @Test
    void aLineItCannotRead_isAnErrorNamingTheFileAndLine() {
        IllegalArgumentException kind = assertThrows(IllegalArgumentException.class,
                () -> Acl.parse("worker svc *\nadmin svc *\n", "/etc/mdp/acl"));
        assertTrue(kind.getMessage().startsWith("/etc/mdp/acl line 2:"), kind.getMessage());
        IllegalArgumentException key = assertThrows(IllegalArgumentException.class,
                () -> Acl.parse("client svc not-a-key\n", "acl"));
        assertTrue(key.getMessage().contains("not a Z85 public key"), key.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Acl.parse("client svc\n", "acl"));
    }
}
