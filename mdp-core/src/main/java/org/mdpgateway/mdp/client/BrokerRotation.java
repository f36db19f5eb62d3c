package org.mdpgateway.mdp.client;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which broker each attempt of a request goes to, when a client knows several: requests start on
 * the brokers in turn, and each retry goes to the next one (18/MDP: failover is the client's job).
 * Thread safe.
 */
final class BrokerRotation {
    private final List<String> endpoints;
    private final AtomicInteger next = new AtomicInteger();

    BrokerRotation(List<String> endpoints) {
        this.endpoints = List.copyOf(endpoints);
        if (this.endpoints.isEmpty()) {
            throw new IllegalArgumentException("a client needs at least one broker endpoint");
        }
    }

    /** Where a new request starts. */
    int start() {
        return endpoints.size() == 1 ? 0 : Math.floorMod(next.getAndIncrement(), endpoints.size());
    }

    /** The broker (its index) of the next attempt of a request that started at {@code start} and made {@code attemptsMade}. */
    int next(int start, int attemptsMade) {
        return (start + attemptsMade) % endpoints.size();
    }

    int size() {
        return endpoints.size();
    }

    List<String> endpoints() {
        return endpoints;
    }
}
