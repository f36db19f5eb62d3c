package org.mdpgateway.mdp.worker;

import org.mdpgateway.mdp.Body;

/**
 * Handles the requests of one service inside an {@link MdpWorker}, one at a time per handler. It may
 * send any number of PARTIALs through {@code partials}; what it returns is the FINAL, so every request
 * gets exactly one (18/MDP).
 *
 * <p>Which thread runs it is the worker's choice: a short handler may run on the worker's I/O thread,
 * a long one on a thread of its own. A handler may block as long as it needs (the worker keeps
 * heartbeating meanwhile), but should not rely on the identity of its thread, or on a thread-local
 * value set by an earlier request.
 */
@FunctionalInterface
public interface RequestHandler {
    /**
     * @return the FINAL's body: at least one frame
     * @throws Exception to abandon the request; the worker survives (see {@link MdpWorker})
     */
    Body handle(Body request, PartialSink partials) throws Exception;

    /** Sends PARTIALs for the request being handled. */
    @FunctionalInterface
    interface PartialSink {
        /**
         * Sends one PARTIAL. It returns at once unless a thousand PARTIALs are still waiting for the
         * broker to read them; then it waits for room, so a fast handler cannot outrun a slow
         * connection and nothing is dropped.
         *
         * @throws IllegalStateException once the handler has returned
         */
        void send(Body partial);
    }
}
