package org.mdpgateway.mdp;

/** The root of this project's unchecked exceptions. */
public class MdpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MdpException(String message) {
        super(message);
    }

    public MdpException(String message, Throwable cause) {
        super(message, cause);
    }
}
