package org.mdpgateway.broker;

import org.mdpgateway.mdp.Body;

/**
 * Receives what happens to one in-process request: zero or more PARTIALs, then exactly one of a FINAL
 * or a failure. Every call runs on the broker's event-loop thread, so an implementation must return
 * at once and never block: hand the body to another thread's queue and return.
 */
public interface ReplyHandler {
    void onPartial(Body partial);

    void onFinal(Body reply);

    void onFailure(RequestFailure failure);
}
