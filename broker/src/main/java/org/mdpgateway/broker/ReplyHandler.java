package org.mdpgateway.broker;

import org.mdpgateway.mdp.Body;


/**
 * Receives what happens to one in-process request: zero or more PARTIALs, then exactly one of a FINAL
 * or a failure. Every call runs on the broker's event-loop thread, so an implementation must return
 * at once and never block: hand the body to another thread's queue and return.
 *
 * <p>One exception, as there is no loop thread left to make it on: a request submitted once the
 * broker has stopped (or while its loop ends) fails with {@link RequestFailure.Reason#BROKER_STOPPED}
 * on the submitting thread, possibly before {@link Broker#submit} returns. So an implementation must
 * also take {@link #onFailure} from a thread of its own, and before it has the request's handle.
 */
public interface ReplyHandler {
    void onPartial(Body partial);

    void onFinal(Body reply);

    void onFailure(RequestFailure failure);
}
