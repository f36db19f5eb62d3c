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

    /** For exceptions raised often on bad input, where a stack trace costs and tells nothing. */
    protected MdpException(String message, boolean writableStackTrace) {
        super(message, null, false, writableStackTrace);
    }
}
