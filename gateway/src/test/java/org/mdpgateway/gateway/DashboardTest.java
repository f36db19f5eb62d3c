package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.ServiceStats;

/** The dashboard's rates and p99, worked out from two broker snapshots. */
class DashboardTest {
    private static final long SECOND = 1_000_000_000L;

    private static ServiceStats stats(long received, long... latencyCounts) {
        List<Long> counts = new ArrayList<>();
        for (long n : latencyCounts) {
            counts.add(n);
        }
        while (!counts.isEmpty() && counts.size() < ServiceStats.LATENCY_BOUNDS_MICROS.size() + 1) {
            counts.add(0L);
        }
        return new ServiceStats("svc", 1, 0, 0, 0, received, 0, 0, 0, 0, 0, Map.of(), Map.of("in-process", received),
                Map.of(), List.of(), List.of(), counts);
    }

    @Test
    void requestsPerSecond_isTheDifferenceOverTheTimeBetween() {
        Dashboard.Sample before = new Dashboard.Sample(10 * SECOND, List.of(stats(100)));
        ServiceStats now = stats(130);
        Dashboard.Sample after = new Dashboard.Sample(12 * SECOND, List.of(now));
        assertEquals(15.0, Dashboard.requestsPerSecond(before, after, now));
    }

    @Test
    void aServiceNewSinceTheLastSnapshot_countsFromZero() {
        Dashboard.Sample before = new Dashboard.Sample(0, List.of());
        ServiceStats now = stats(4);
        assertEquals(4.0, Dashboard.requestsPerSecond(before, new Dashboard.Sample(SECOND, List.of(now)), now));
    }

    @Test
    void p99_comesFromTheBucketsServedInTheWindow_interpolated() {
        // 100 served in the window: 98 up to 0.5 ms, 2 between 1 and 2 ms. The 99th lies halfway into
        // the third bucket (1-2 ms): 1.5 ms.
        ServiceStats before = stats(0, 1000, 0, 0);
        ServiceStats now = stats(0, 1098, 0, 2);
        assertEquals(1.5, Dashboard.p99Millis(before, now));
    }

    @Test
    void p99_isNull_whenNothingWasServedInTheWindow() {
        assertNull(Dashboard.p99Millis(stats(0, 5), stats(0, 5)));
        assertNull(Dashboard.p99Millis(null, stats(0)), "no latency buckets at all");
    }

    @Test
    void p99_pastTheLastBound_isTheLastBound() {
        long[] counts = new long[ServiceStats.LATENCY_BOUNDS_MICROS.size() + 1];
        counts[counts.length - 1] = 10;
        assertEquals(60_000.0, Dashboard.p99Millis(null, stats(0, counts)));
    }
}
