package org.mdpgateway.mdp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import org.junit.jupiter.api.Test;

/** A post from an interrupted thread must not break the doorbell. */
class LoopInboxTest {

    @Test
    void postFromInterruptedThread_leavesDoorbellWorking() throws Exception {
        LoopInbox<String> inbox = new LoopInbox<>();
        try (Selector selector = Selector.open()) {
            inbox.doorbell().register(selector, SelectionKey.OP_READ);

            Thread.currentThread().interrupt();   // e.g. a caller that restored its interrupt flag
            inbox.post("x");
            Thread.interrupted();                 // clear it again

            assertEquals(1, selector.select(1000), "the post rang the doorbell");
            selector.selectedKeys().clear();
            inbox.silence();
            assertEquals("x", inbox.next());

            // Nothing is queued and the doorbell was silenced: the loop must be able to sleep.
            // With the bug, the blocking sink was closed by ClosedByInterruptException, the source
            // is at EOF and stays readable for ever: the owning loop spins at 100% CPU.
            assertEquals(0, selector.selectNow(), "doorbell stays readable after silence()");
        } finally {
            inbox.close();
        }
    }
}
