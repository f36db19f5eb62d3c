package org.mdpgateway.mdp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * A broker stand-in for tests: a raw JeroMQ ROUTER on a free loopback port that the test scripts
 * frame by frame. It never uses the project's codec, so it cannot share its bugs.
 */
public final class RawRouterPeer implements AutoCloseable {
    private final ZContext context = new ZContext(1);
    private final ZMQ.Socket router = context.createSocket(SocketType.ROUTER);
    private final String endpoint;

    public RawRouterPeer() {
        router.setLinger(0);
        int port = router.bindToRandomPort("tcp://127.0.0.1");
        endpoint = "tcp://127.0.0.1:" + port;
    }

    /** Bound to {@code tcp://host:port}: two peers on different loopback addresses may share a port. */
    public RawRouterPeer(String host, int port) {
        router.setLinger(0);
        endpoint = "tcp://" + host + ":" + port;
        router.bind(endpoint);
    }

    public String endpoint() {
        return endpoint;
    }

    /** One message as the ROUTER saw it: the sender's routing id and the frames after it. */
    public record Received(byte[] identity, List<byte[]> frames) {
        public String string(int index) {
            return new String(frames.get(index), UTF_8);
        }

        public String identityKey() {
            return Arrays.toString(identity);
        }
    }

    /** The next message, or null if none arrives within {@code wait}. */
    public Received receive(Duration wait) {
        router.setReceiveTimeOut((int) wait.toMillis());
        byte[] identity = router.recv(0);
        if (identity == null) {
            return null;
        }
        List<byte[]> frames = new ArrayList<>();
        while (router.hasReceiveMore()) {
            frames.add(router.recv(0));
        }
        return new Received(identity, frames);
    }

    public Received expect(Duration wait) {
        Received r = receive(wait);
        assertNotNull(r, "expected a message within " + wait.toMillis() + " ms");
        return r;
    }

    /** Sends frames to the peer {@code identity}; strings go as UTF-8, byte arrays as they are. */
    public void send(byte[] identity, Object... frames) {
        router.send(identity, ZMQ.SNDMORE);
        for (int i = 0; i < frames.length; i++) {
            byte[] frame = frames[i] instanceof byte[] bytes ? bytes : ((String) frames[i]).getBytes(UTF_8);
            router.send(frame, i < frames.length - 1 ? ZMQ.SNDMORE : 0);
        }
    }

    @Override
    public void close() {
        context.close();
    }

    public static byte[] cmd(int commandByte) {
        return new byte[] {(byte) commandByte};
    }
}
