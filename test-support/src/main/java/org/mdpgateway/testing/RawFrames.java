package org.mdpgateway.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.zeromq.ZMQ;

/**
 * Multipart messages on a raw JeroMQ socket, frame by frame, for tests that play a peer by hand
 * instead of trusting our own client and worker libraries.
 */
public final class RawFrames {
    private RawFrames() {}

    /**
     * The next whole message, or null when none arrives within the socket's receive timeout.
     */
    public static List<byte[]> receive(ZMQ.Socket socket) {
        byte[] first = socket.recv(0);
        if (first == null) {
            return null;
        }
        List<byte[]> frames = new ArrayList<>();
        frames.add(first);
        while (socket.hasReceiveMore()) {
            frames.add(socket.recv(0));
        }
        return frames;
    }

    /** As {@link #receive(ZMQ.Socket)}, waiting at most {@code wait}; the socket's timeout is changed. */
    public static List<byte[]> receive(ZMQ.Socket socket, Duration wait) {
        socket.setReceiveTimeOut((int) Math.max(0, Math.min(Integer.MAX_VALUE, wait.toMillis())));
        return receive(socket);
    }

    /** Sends one message; each frame is a {@code byte[]} or a {@code String} (UTF-8). */
    public static void send(ZMQ.Socket socket, Object... frames) {
        for (int i = 0; i < frames.length; i++) {
            byte[] frame = frames[i] instanceof byte[] bytes ? bytes : frames[i].toString().getBytes(UTF_8);
            socket.send(frame, i < frames.length - 1 ? ZMQ.SNDMORE : 0);
        }
    }

    /** The frames as UTF-8 text, for assertions and messages. */
    public static List<String> strings(List<byte[]> frames) {
        List<String> s = new ArrayList<>();
        frames.forEach(f -> s.add(new String(f, UTF_8)));
        return s;
    }
}
