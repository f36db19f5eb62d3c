package org.mdpgateway.mdp;

/**
 * A source of elapsed time in nanoseconds, for heartbeats, deadlines and expiry. Only differences
 * between readings mean anything. Tests pass a fake that they move by hand.
 */
@FunctionalInterface
public interface Ticker {
    long nanoTime();

    /** The system's monotonic clock. */
    static Ticker system() {
        return System::nanoTime;
    }
}
