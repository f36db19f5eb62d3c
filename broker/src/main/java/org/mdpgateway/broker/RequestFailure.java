package org.mdpgateway.broker;

/** Why an in-process request ended without a FINAL. */
public record RequestFailure(Reason reason, String detail) {

    public enum Reason {
        /** The service's queue (or the broker's) was full; nothing was queued. */
        REFUSED,
        /** No worker took the request before its deadline or the broker's request expiry. */
        EXPIRED,
        /** A worker took the request but sent no FINAL before the deadline. */
        DEADLINE,
        /**
         * The request's worker died or broke the protocol after PARTIALs had been forwarded, or the
         * request had already been resent as often as allowed.
         */
        WORKER_LOST,
        /**
         * The reply grew past the most the broker collects for a client that takes one whole reply
         * (MDP/0.1); an in-process request never fails so.
         */
        REPLY_TOO_LARGE,
        /** The broker stopped. */
        BROKER_STOPPED
    }

    /** True when no worker ever started on the request: a caller may safely try again later. */
    public boolean neverStarted() {
        return reason == Reason.REFUSED || reason == Reason.EXPIRED;
    }
}
