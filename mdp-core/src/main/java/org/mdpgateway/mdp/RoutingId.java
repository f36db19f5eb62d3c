package org.mdpgateway.mdp;

import java.util.Arrays;

/**
 * The identity a ROUTER socket gives a connected peer: the client address of worker REQUEST,
 * PARTIAL and FINAL commands, and the broker's key for its peers. Immutable, compared by content.
 */
public final class RoutingId {
    private final byte[] bytes;
    private final int hash;

    private RoutingId(byte[] bytes) {
        this.bytes = bytes;
        this.hash = Arrays.hashCode(bytes);
    }

    /** A routing id holding a copy of {@code bytes}. */
    public static RoutingId of(byte[] bytes) {
        return wrap(bytes.clone());
    }

    /** Takes ownership of {@code bytes}, which must not be empty. */
    public static RoutingId wrapReceived(byte[] bytes) {
        return wrap(bytes);
    }

    private static RoutingId wrap(byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalArgumentException("routing id is empty");
        }
        return new RoutingId(bytes);
    }

    /** A copy of the identity's bytes. */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    public int length() {
        return bytes.length;
    }

    /**
     * The bytes themselves, not a copy, for this project's socket adapter
     * ({@code org.mdpgateway.mdp.internal}). Never modify or hand them on.
     */
    public byte[] raw() {
        return bytes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RoutingId other && hash == other.hash && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return Frames.describe(bytes, new StringBuilder()).toString();
    }
}
