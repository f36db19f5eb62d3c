package org.mdpgateway.broker;

import java.nio.file.Path;

/**
 * Who may connect to the broker's socket and what they may do there. 18/MDP leaves security to the
 * layers around it; these are ZeroMQ's own: CURVE (CurveZMQ) to authenticate and encrypt each
 * connection, ZAP to decide which connections are let in, and an access list over the key each
 * connection authenticated with.
 *
 * <p>Every combination fails closed: without CURVE, only peers on loopback addresses are let in
 * unless {@code allowInsecureRemote} says otherwise; with CURVE, only peers whose public key has a
 * certificate in {@code curveAllowedDir}.
 *
 * @param curveSecretKeyFile the broker's certificate with its secret key (ZeroMQ certificate format:
 *     a {@code curve} section with {@code public-key} and {@code secret-key} in Z85); null for no CURVE
 * @param curveAllowedDir the public certificates of the peers allowed to connect; read again when it
 *     changes, so a certificate added or removed there takes effect without a restart; required with
 *     CURVE
 * @param aclFile which key may serve or call which services ({@link Acl}); null lets every allowed
 *     peer do everything; needs CURVE, as its rules are written over keys
 * @param allowInsecureRemote without CURVE, let in peers from any address, not just loopback
 */
public record BrokerSecurity(Path curveSecretKeyFile, Path curveAllowedDir, Path aclFile, boolean allowInsecureRemote) {
    /** No CURVE; loopback peers only. */
    public static final BrokerSecurity LOOPBACK_ONLY = new BrokerSecurity(null, null, null, false);

    public BrokerSecurity {
        if ((curveSecretKeyFile == null) != (curveAllowedDir == null)) {
            throw new IllegalArgumentException(curveSecretKeyFile == null
                    ? "--curve-allowed-dir needs --curve-secret-key-file: the broker's own key pair"
                    : "--curve-secret-key-file needs --curve-allowed-dir: the certificates of the peers allowed to "
                            + "connect (CURVE without one would let every key in)");
        }
        if (aclFile != null && curveSecretKeyFile == null) {
            throw new IllegalArgumentException("--acl needs CURVE (--curve-secret-key-file and --curve-allowed-dir): "
                    + "its rules are written over the keys peers authenticate with");
        }
        if (allowInsecureRemote && curveSecretKeyFile != null) {
            throw new IllegalArgumentException("--allow-insecure-remote has no meaning with CURVE, which "
                    + "authenticates every peer wherever it connects from");
        }
    }

    /** CURVE with an allowed directory; remote peers from anywhere, if their key is allowed. */
    public static BrokerSecurity curve(Path secretKeyFile, Path allowedDir, Path aclFile) {
        return new BrokerSecurity(secretKeyFile, allowedDir, aclFile, false);
    }

    /** No CURVE, and peers from any address: the socket is open to whoever reaches it. */
    public static BrokerSecurity insecureRemote() {
        return new BrokerSecurity(null, null, null, true);
    }

    public boolean curve() {
        return curveSecretKeyFile != null;
    }

    /** Whether a ZAP handler must vet connections: with CURVE, or to keep remote NULL peers out. */
    boolean needsZap() {
        return curve() || !allowInsecureRemote;
    }

    /** For the startup line. */
    String describe() {
        if (curve()) {
            return "CURVE, allowed keys in " + curveAllowedDir + (aclFile != null ? ", ACL " + aclFile : ", no ACL");
        }
        return allowInsecureRemote ? "none: any address may connect (--allow-insecure-remote)"
                : "loopback peers only (no CURVE; --allow-insecure-remote lets others in)";
    }
}
