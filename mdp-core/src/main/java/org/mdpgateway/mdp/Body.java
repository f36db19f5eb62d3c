package org.mdpgateway.mdp;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An immutable list of opaque frames: the body of a request or a reply. Frames may be empty and may
 * hold any bytes.
 *
 * <p>The public factories copy what they are given and the accessors copy what they hand out, so a
 * body can be shared between threads freely. The codec in this package takes ownership of freshly
 * received frames without copying them.
 */
public final class Body {
    private static final byte[][] NO_FRAMES = new byte[0][];
    private static final Body EMPTY = new Body(NO_FRAMES);

    private final byte[][] frames;

    private Body(byte[][] frames) {
        this.frames = frames;
    }

    /** A body of no frames. Commands that carry a body need at least one frame. */
    public static Body empty() {
        return EMPTY;
    }

    /** A body of copies of {@code frames}. */
    public static Body of(byte[]... frames) {
        byte[][] copy = new byte[frames.length][];
        for (int i = 0; i < frames.length; i++) {
            copy[i] = frames[i].clone();
        }
        return new Body(copy);
    }

    /** A body of copies of {@code frames}. */
    public static Body of(List<byte[]> frames) {
        return of(frames.toArray(NO_FRAMES));
    }

    /** A body with one UTF-8 frame per string. */
    public static Body ofStrings(String... frames) {
        byte[][] encoded = new byte[frames.length][];
        for (int i = 0; i < frames.length; i++) {
            encoded[i] = frames[i].getBytes(StandardCharsets.UTF_8);
        }
        return new Body(encoded);
    }

    /**
     * A body of {@code frames} themselves, without copying: for a caller that made the arrays and
     * will never touch them again (a request body just read from the network, say).
     */
    public static Body adopt(byte[]... frames) {
        return frames.length == 0 ? EMPTY : new Body(frames.clone());
    }

    /** As {@link #adopt(byte[]...)}, from a list. */
    public static Body adopt(List<byte[]> frames) {
        return wrap(frames);
    }

    /** Takes ownership of {@code frames}: the caller must not touch them again. */
    static Body wrap(List<byte[]> frames) {
        return frames.isEmpty() ? EMPTY : new Body(frames.toArray(NO_FRAMES));
    }

    /**
     * The frames of {@code parts}, in order, as one body. Bodies are immutable, so their frames are
     * shared, not copied.
     */
    public static Body concat(List<Body> parts) {
        int n = 0;
        for (Body part : parts) {
            n += part.frames.length;
        }
        byte[][] all = new byte[n][];
        int i = 0;
        for (Body part : parts) {
            System.arraycopy(part.frames, 0, all, i, part.frames.length);
            i += part.frames.length;
        }
        return n == 0 ? EMPTY : new Body(all);
    }

    public int size() {
        return frames.length;
    }

    public boolean isEmpty() {
        return frames.length == 0;
    }

    /** A copy of frame {@code index}. */
    public byte[] frame(int index) {
        return frames[index].clone();
    }

    /** A read-only view of frame {@code index}, without copying. */
    public ByteBuffer frameBuffer(int index) {
        return ByteBuffer.wrap(frames[index]).asReadOnlyBuffer();
    }

    /** The length in bytes of frame {@code index}. */
    public int frameLength(int index) {
        return frames[index].length;
    }

    /** Frame {@code index} decoded as UTF-8. */
    public String string(int index) {
        return new String(frames[index], StandardCharsets.UTF_8);
    }

    /** The last frame decoded as UTF-8; MMI replies carry their status there. */
    public String lastString() {
        return string(frames.length - 1);
    }

    /** Writes frame {@code index} to {@code out} without copying it first. */
    public void writeFrameTo(int index, OutputStream out) throws IOException {
        out.write(frames[index]);
    }

    /** Copies of all frames. */
    public List<byte[]> frames() {
        List<byte[]> copy = new ArrayList<>(frames.length);
        for (byte[] f : frames) {
            copy.add(f.clone());
        }
        return copy;
    }

    /** Every frame decoded as UTF-8. */
    public List<String> strings() {
        List<String> strings = new ArrayList<>(frames.length);
        for (byte[] f : frames) {
            strings.add(new String(f, StandardCharsets.UTF_8));
        }
        return strings;
    }

    /** The sum of the frame lengths. */
    public long byteCount() {
        long n = 0;
        for (byte[] f : frames) {
            n += f.length;
        }
        return n;
    }

    /** Frame {@code index} itself, for the codec's writers. Never expose it. */
    byte[] rawFrame(int index) {
        return frames[index];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Body other && Arrays.deepEquals(frames, other.frames);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(frames);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Body[");
        for (int i = 0; i < frames.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            Frames.describe(frames[i], sb);
        }
        return sb.append(']').toString();
    }
}
