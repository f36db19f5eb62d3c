package org.mdpgateway.mdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LivenessTest {
    private static final long SILENCE = 3_000;

    @Test
    void silentForTheAllowance_isExpired_andHearingRenewsIt() {
        Liveness peer = new Liveness(100, SILENCE);
        assertFalse(peer.isExpired(100 + SILENCE - 1));
        assertTrue(peer.isExpired(100 + SILENCE));
        peer.heard(2_000, SILENCE);
        assertFalse(peer.isExpired(2_000 + SILENCE - 1));
        assertEquals(1, peer.remainingNanos(2_000 + SILENCE - 1));
        assertEquals(500, peer.silentNanos(2_500));
    }

    @Test
    void heardAtLeast_neverShortensALongerAllowance() {
        Liveness busy = new Liveness(0, 10 * SILENCE); // a busy worker that does not heartbeat
        busy.heardAtLeast(1_000, SILENCE);
        assertFalse(busy.isExpired(1_000 + SILENCE), "the longer allowance stands");
        busy.heardAtLeast(9 * SILENCE, 2 * SILENCE);
        assertTrue(busy.isExpired(11 * SILENCE));
        assertEquals(0, busy.silentNanos(9 * SILENCE), "it was heard, whatever the allowance");
    }

    @Test
    void readingsThatWrapAroundLongMaxValue_compareByDifference() {
        long start = Long.MAX_VALUE - 1_000;
        Liveness peer = new Liveness(start, SILENCE);
        assertFalse(peer.isExpired(start + SILENCE - 1)); // past Long.MAX_VALUE, negative
        assertTrue(peer.isExpired(start + SILENCE));
    }
}
