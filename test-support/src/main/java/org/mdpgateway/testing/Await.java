package org.mdpgateway.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting, in real time, for something another thread or process makes true. */
public final class Await {
    private Await() {}

    /** Polls {@code condition} every 10 ms until it holds or {@code limit} passes; says which. */
    public static boolean until(BooleanSupplier condition, Duration limit) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }
}
