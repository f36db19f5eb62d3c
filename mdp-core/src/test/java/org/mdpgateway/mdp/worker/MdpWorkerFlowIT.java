package org.mdpgateway.mdp.worker;

import org.mdpgateway.mdp.RawRouterPeer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mdpgateway.mdp.RawRouterPeer.cmd;

import org.mdpgateway.mdp.Body;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class MdpWorkerFlowIT {

    /**
     * More PARTIALs than the sockets' high-water marks, the worker's own queue and loopback TCP's
     * buffers (which grow to megabytes) hold together, read slowly: none may be lost.
     */
    @Test
    void handlerFasterThanTheBroker_losesNoPartial_andKeepsTheirOrder() throws Exception {
        int partials = 5000;
        AtomicInteger handed = new AtomicInteger();
        try (RawRouterPeer broker = new RawRouterPeer();
                MdpWorker worker = MdpWorker.builder(broker.endpoint(), "flood").start((request, sink) -> {
                    for (int i = 0; i < partials; i++) {
                        sink.send(Body.of(ByteBuffer.allocate(16 * 1024).putInt(0, i).array()));
                        handed.incrementAndGet();
                    }
                    return Body.ofStrings("end");
                })) {
            RawRouterPeer.Received ready = broker.expect(Duration.ofSeconds(10));
            assertEquals("flood", ready.string(2));
            broker.send(ready.identity(), "MDPW02", cmd(2), "client", "", "go");
            Thread.sleep(500); // let the handler run far ahead of this reader
            assertTrue(handed.get() < partials, "the handler should wait for room, it sent " + handed.get());
            int expected = 0;
            while (true) {
                RawRouterPeer.Received r = broker.expect(Duration.ofSeconds(10));
                if (r.frames().get(1)[0] == 5) {
                    continue; // a heartbeat
                }
                if (r.frames().get(1)[0] == 4) {
                    assertEquals("end", r.string(4));
                    break;
                }
                assertArrayEquals(cmd(3), r.frames().get(1));
                assertEquals(expected, ByteBuffer.wrap(r.frames().get(4)).getInt(), "PARTIALs in order, none lost");
                expected++;
            }
            assertEquals(partials, expected);
        }
    }
}
