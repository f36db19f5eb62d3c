package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.MdpException;
import java.time.Duration;

/** No FINAL arrived for a request in time, after every allowed attempt. */
public final class RequestTimeoutException extends MdpException {
    private static final long serialVersionUID = 1L;

    private final String service;
    private final int attempts;
    private final int partialsReceived;

    public RequestTimeoutException(String service, Duration timeout, int attempts, int partialsReceived) {
        super(message(service, timeout, attempts, partialsReceived));
        this.service = service;
        this.attempts = attempts;
        this.partialsReceived = partialsReceived;
    }

    private static String message(String service, Duration timeout, int attempts, int partialsReceived) {
        String s = "no FINAL from service '" + service + "' within " + timeout.toMillis() + " ms after "
                + attempts + (attempts == 1 ? " attempt" : " attempts");
        if (partialsReceived > 0) {
            s += " (" + partialsReceived + " PARTIALs received, so the request was not resent)";
        }
        return s;
    }

    public String service() {
        return service;
    }

    /** How many times the request was sent. */
    public int attempts() {
        return attempts;
    }

    /** How many PARTIALs arrived before the request timed out. */
    public int partialsReceived() {
        return partialsReceived;
    }
}
