package org.mdpgateway.broker;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.mdpgateway.mdp.Body;

/**
 * What a front end in this process needs of a broker: send a request and hear its reply, read the
 * counters, know whether it runs. {@link Broker} is the implementation; the HTTP gateway depends on
 * this alone, so its routes and encoders are tested against a fake. Implementations are thread safe.
 */
public interface RequestBroker {
    /**
     * Sends a request. The handler hears of its PARTIALs and then its FINAL or failure, on the
     * broker thread; when the broker has stopped, of its failure on the caller's thread, before this
     * returns (see {@link ReplyHandler}). {@link RequestHandle#cancel()} abandons it.
     *
     * @param timeout how long the request may take in all, or null for no deadline other than the
     *     broker's request expiry while it waits for a worker
     * @throws IllegalArgumentException for an invalid service name or an empty body
     */
    RequestHandle submit(String service, Body body, Duration timeout, ReplyHandler handler);

    /** A snapshot of every service's counters; an empty list once the broker has stopped. */
    CompletableFuture<List<ServiceStats>> stats();

    /** True until the broker has been closed or its loop has died. */
    boolean isRunning();

    /** The endpoints peers connect to, wildcard ports resolved. */
    List<String> boundEndpoints();
}
