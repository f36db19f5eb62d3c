package org.mdpgateway.mdp;

/** A message that is not a valid MDP/0.2 command. The message names the rule it breaks. */
public final class MalformedMessageException extends MdpException {
    private static final long serialVersionUID = 1L;

    /** The classes of malformed input, one per rule of 18/MDP the codec enforces. */
    public enum Violation {
        /** A message of no frames at all. */
        EMPTY_MESSAGE,
        /** Frame 0 is neither "MDPC02" nor "MDPW02". */
        UNKNOWN_PROTOCOL,
        /** Frame 1 is missing or is not one byte. */
        MISSING_COMMAND,
        /** Frame 1 is one byte that names no command of the protocol. */
        UNKNOWN_COMMAND,
        /** Fewer frames than the command needs. */
        TOO_FEW_FRAMES,
        /** More frames than a fixed-size command has. */
        TOO_MANY_FRAMES,
        /** The client address of a worker REQUEST, PARTIAL or FINAL is empty. */
        EMPTY_CLIENT_ADDRESS,
        /** The frame after a client address is not empty. */
        MISSING_DELIMITER,
        /** The service name is empty, over 255 bytes, not UTF-8 or has control characters. */
        INVALID_SERVICE_NAME
    }

    private final Violation violation;

    public MalformedMessageException(Violation violation, String message) {
        super(message, false); // a peer can send junk at line rate: no stack trace to fill in
        this.violation = violation;
    }

    public Violation violation() {
        return violation;
    }
}
