package org.mdpgateway.testing;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    /**
     * As {@link #receive(ZMQ.Socket, Duration)}, but runs {@code meanwhile} at least every 20 ms while
     * it waits: a test that plays several peers on one thread keeps the others heartbeating.
     */
    public static List<byte[]> receive(ZMQ.Socket socket, Duration wait, Runnable meanwhile) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            meanwhile.run();
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            List<byte[]> message = receive(socket, Duration.ofMillis(Math.max(0, Math.min(20, left))));
            if (message != null || left <= 0) {
                return message;
            }
        }
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

    /**
     * Printable frames as quoted text, others as hex: readable in a failure message, and different
     * frames always read differently.
     */
    public static List<String> describe(List<byte[]> frames) {
        List<String> out = new ArrayList<>(frames.size());
        for (byte[] frame : frames) {
            boolean printable = true;
            for (byte b : frame) {
                printable &= b >= 0x20 && b < 0x7f;
            }
            if (printable && frame.length > 1) {
                out.add("'" + new String(frame, US_ASCII) + "'");
            } else {
                StringBuilder hex = new StringBuilder("0x");
                for (byte b : frame) {
                    hex.append(String.format("%02x", b & 0xff));
                }
                out.add(frame.length == 0 ? "(empty)" : hex.toString());
            }
        }
        return out;
    }

    /** Whether two messages have the same frames. */
    public static boolean sameFrames(List<byte[]> a, List<byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }
}
