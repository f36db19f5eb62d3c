package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.Body;

/**
 * Receives the PARTIALs of one request as they arrive, in order, on the client's I/O thread. It must
 * return quickly and must not block: every request of the client waits while it runs.
 */
@FunctionalInterface
public interface PartialListener {
    void onPartial(Body partial);
}
