package org.mdpgateway.broker;

/** An in-process request that was submitted to the broker. */
public interface RequestHandle {
    /**
     * Abandons the request, say because its HTTP client went away: it leaves the queue if it is still
     * waiting, and any later reply from its worker is dropped. Its handler hears nothing more. Safe
     * from any thread, and more than once.
     */
    void cancel();
}
