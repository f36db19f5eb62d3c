package org.mdpgateway.testing;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that moves only when a test moves it, for heartbeat, expiry and deadline logic. Pass
 * {@code clock::nanoTime} where a {@code Ticker} is wanted. Start it near {@code Long.MAX_VALUE} to
 * prove that code compares readings by difference, as {@link System#nanoTime()} requires. Thread
 * safe.
 */
public final class ManualClock {
    private final AtomicLong now;

    public ManualClock() {
        this(0);
    }

    public ManualClock(long startNanos) {
        now = new AtomicLong(startNanos);
    }

    public long nanoTime() {
        return now.get();
    }

    public void advance(Duration by) {
        now.addAndGet(by.toNanos());
    }
}
