package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.MdpException;

/** The client was closed before the request could be sent or before its FINAL arrived. */
public final class ClientClosedException extends MdpException {
    private static final long serialVersionUID = 1L;

    public ClientClosedException(String message) {
        super(message);
    }
}
