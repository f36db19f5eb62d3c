package org.mdpgateway.mdp.internal;

import org.mdpgateway.mdp.RawRouterPeer;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.ClientCommand;
import org.mdpgateway.mdp.Body;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

class MdpSocketsIT {

    /**
     * JeroMQ 0.6.0 strands a few percent of fresh connects before their handshake; without the short
     * handshake timer each such connect would hold its first message for 30 s.
     */
    @Test
    void freshDealerConnections_deliverTheirFirstMessagePromptly() {
        int connects = 60;
        try (RawRouterPeer broker = new RawRouterPeer(); ZContext context = new ZContext(1)) {
            for (int i = 0; i < connects; i++) {
                ZMQ.Socket dealer = MdpSockets.connectDealer(context, broker.endpoint(),
                        MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT);
                MdpSockets.send(dealer, new ClientCommand.Request("svc", Body.ofStrings("n" + i)));
                RawRouterPeer.Received r = broker.expect(Duration.ofSeconds(10));
                assertEquals("n" + i, r.string(3));
                dealer.close();
            }
        }
    }

    @Test
    void receive_readsAWholeMultipartMessage_andNullWhenNoneWaits() {
        try (RawRouterPeer broker = new RawRouterPeer(); ZContext context = new ZContext(1)) {
            ZMQ.Socket dealer = MdpSockets.connectDealer(context, broker.endpoint(), Duration.ofSeconds(1));
            assertEquals(null, MdpSockets.receive(dealer));
            MdpSockets.send(dealer, new ClientCommand.Request("svc", Body.ofStrings("x")));
            RawRouterPeer.Received r = broker.expect(Duration.ofSeconds(10));
            broker.send(r.identity(), "MDPC02", RawRouterPeer.cmd(3), "svc", "a", "", "b");
            List<byte[]> frames = null;
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (frames == null && System.nanoTime() < end) {
                frames = MdpSockets.receive(dealer);
                Thread.onSpinWait();
            }
            assertEquals(new ClientCommand.Final("svc", Body.ofStrings("a", "", "b")), MdpCodec.decode(frames));
        }
    }
}
