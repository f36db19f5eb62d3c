package org.mdpgateway.broker;

import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Logs a WARN for a kind of event at most once per period, with how many happened since, so a flood
 * of bad input cannot flood the log. Not thread safe: it belongs to the broker thread.
 */
final class RateLimitedWarning {
    private static final long PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Logger log;
    private final String what;
    private long count;
    private long lastLoggedAt;
    private boolean loggedOnce;

    RateLimitedWarning(Logger log, String what) {
        this.log = log;
        this.what = what;
    }

    void record(long now, String latest) {
        count++;
        if (!loggedOnce || now - lastLoggedAt >= PERIOD_NANOS) {
            log.warn("{} {} (latest: {})", count, what, latest);
            count = 0;
            lastLoggedAt = now;
            loggedOnce = true;
        }
    }
}
