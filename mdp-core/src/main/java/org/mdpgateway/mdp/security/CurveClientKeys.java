package org.mdpgateway.mdp.security;

import java.nio.file.Path;
import java.util.Objects;
import org.zeromq.ZMQ;

/**
 * What a client or worker needs to reach a CURVE broker: the broker's public key, to know it talks
 * to the right broker, and its own key pair, whose public half the broker must allow.
 *
 * @param brokerPublicKey Z85
 * @param own this peer's key pair
 */
public record CurveClientKeys(String brokerPublicKey, CurveCertificate own) {
    public CurveClientKeys {
        new CurveCertificate(brokerPublicKey, null); // validates the key
        Objects.requireNonNull(own, "own");
        if (own.secretKey() == null) {
            throw new IllegalArgumentException("a peer's own certificate needs its secret key");
        }
    }

    /** From the broker's public certificate and this peer's secret certificate. */
    public static CurveClientKeys fromFiles(Path brokerCertificate, Path ownSecretCertificate) {
        return new CurveClientKeys(CurveCertificate.load(brokerCertificate).publicKey(),
                CurveCertificate.loadSecret(ownSecretCertificate));
    }

    /** Makes {@code socket} a CURVE client with these keys; call it before it connects. */
    public void applyTo(ZMQ.Socket socket) {
        socket.setCurveServerKey(ZMQ.Curve.z85Decode(brokerPublicKey));
        socket.setCurvePublicKey(own.publicKeyBytes());
        socket.setCurveSecretKey(own.secretKeyBytes());
    }

    @Override
    public String toString() {
        return "CurveClientKeys[broker " + brokerPublicKey + ", own " + own.publicKey() + "]";
    }
}
