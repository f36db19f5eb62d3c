package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.mdpgateway.broker.ServiceStats;
import org.mdpgateway.testing.PrometheusText;

class GatewayMetricsTest {
    private static ServiceStats served(String service, long served) {
        return new ServiceStats(service, 1, 0, 0, 0, served, 0, 0, 0, 0, 0, Map.of(), Map.of(), Map.of());
    }

    @Test
    void anOlderSnapshotArrivingLate_doesNotTurnCountersBack() {
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            PrometheusText newer = PrometheusText.parse(metrics.render(List.of(served("svc", 10)), 2_000));
            assertTrue(newer.has(10, "mdpgw_broker_served_total", "service", "svc"));
            PrometheusText late = PrometheusText.parse(metrics.render(List.of(served("svc", 7)), 1_000));
            assertTrue(late.has(10, "mdpgw_broker_served_total", "service", "svc"), "still 10, not 7");
            PrometheusText later = PrometheusText.parse(metrics.render(List.of(served("svc", 12)), 3_000));
            assertTrue(later.has(12, "mdpgw_broker_served_total", "service", "svc"));
        }
    }

    @Test
    void aServiceTheBrokerNoLongerLists_leavesTheExposition() {
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            assertTrue(metrics.render(List.of(served("gone", 1)), 1).contains("service=\"gone\""));
            assertFalse(metrics.render(List.of(), 2).contains("service=\"gone\""));
        }
    }
}
