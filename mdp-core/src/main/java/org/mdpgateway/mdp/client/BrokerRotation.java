package org.mdpgateway.mdp.client;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which broker each attempt of a request goes to, when a client knows several: requests start on
 * the brokers in turn, and each retry goes to the next one (18/MDP: failover is the client's job).
 * With brokers found by DNS the list changes as the names are looked up again; an attempt goes to
 * whichever broker is at its place in the list of that moment.
 *
 * <p>Threads: thread safe. The list is replaced whole ({@link #set}, by the resolving thread) and
 * read whole by every thread that starts or resends a request.
 */
final class BrokerRotation {
    /** Used while a name resolves to nothing: ZeroMQ then looks the configured endpoints up itself. */
    private final List<String> configured;
    private volatile List<String> endpoints;
    private final AtomicInteger next = new AtomicInteger();

    BrokerRotation(List<String> endpoints) {
        this.configured = List.copyOf(endpoints);
        if (this.configured.isEmpty()) {
            throw new IllegalArgumentException("a client needs at least one broker endpoint");
        }
        this.endpoints = this.configured;
    }

    /**
     * The brokers from now on; none (every name resolved to nothing) means the configured endpoints.
     * They are kept sorted: a DNS server that hands the same addresses out in another order each time
     * (round-robin DNS) would otherwise move brokers between places, and a resend, going to the next
     * place, could land on the broker its request has just timed out on.
     */
    void set(Collection<String> brokers) {
        endpoints = brokers.isEmpty() ? configured : brokers.stream().sorted().toList();
    }

    /** Where a new request starts: pass it to {@link #endpoint}. */
    int start() {
        return configured.size() == 1 && endpoints.size() == 1 ? 0 : next.getAndIncrement();
    }

    /** The broker of the next attempt of a request that started at {@code start} and made {@code attemptsMade}. */
    String endpoint(int start, int attemptsMade) {
        List<String> now = endpoints;
        return now.get(Math.floorMod(start + attemptsMade, now.size()));
    }

    /** Whether {@code endpoint} is one of the brokers now: a socket to one that is not is not kept idle. */
    boolean contains(String endpoint) {
        return endpoints.contains(endpoint);
    }

    List<String> endpoints() {
        return endpoints;
    }

    List<String> configured() {
        return configured;
    }
}
