package org.mdpgateway.gateway;

/**
 * A credential that was presented and is not good: unknown, badly signed, expired, not yet valid or
 * malformed. Its message says which, for the problem's {@code detail}, and never repeats the
 * credential itself.
 */
final class InvalidCredentialException extends Exception {
    private static final long serialVersionUID = 1L;

    InvalidCredentialException(String reason) {
        super(reason, null, false, false);
    }
}
