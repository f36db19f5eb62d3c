package org.mdpgateway.mdp.internal;

import java.time.Duration;
import java.util.Objects;

/**
 * Internal to this project's modules; not a supported API. The argument checks every config and
 * builder makes, worded the same everywhere: "{what} must be positive, got {value}".
 */
public final class Require {
    private Require() {}

    /** {@code d}, if it is longer than zero. */
    public static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
        return d;
    }

    /** {@code value}, if it is above zero. */
    public static long positive(long value, String what) {
        if (value < 1) {
            throw new IllegalArgumentException(what + " must be positive, got " + value);
        }
        return value;
    }

    /** {@code value}, if it is at least {@code min}. */
    public static long atLeast(long value, long min, String what) {
        if (value < min) {
            throw new IllegalArgumentException(what + " must be at least " + min + ", got " + value);
        }
        return value;
    }
}
