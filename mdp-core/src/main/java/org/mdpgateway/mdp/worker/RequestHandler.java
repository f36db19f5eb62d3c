package org.mdpgateway.mdp.worker;

import org.mdpgateway.mdp.Body;

/**
 * Handles the requests of one service inside an {@link MdpWorker}, one at a time, on the worker's
 * handler thread. It may send any number of PARTIALs through {@code partials}; what it returns is the
 * FINAL, so every request gets exactly one (18/MDP).
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
