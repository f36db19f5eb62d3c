package org.mdpgateway.broker;

/**
 * What a peer may do, by the CURVE key its connection authenticated with (its ZAP {@code User-Id});
 * asked by {@link BrokerCore} on the loop thread, for every message that carries a key.
 */
interface PeerPolicy {
    /** Every peer may do everything: no CURVE, or CURVE without an ACL and without revocation. */
    PeerPolicy OPEN = new PeerPolicy() {
        @Override
        public boolean stillAllowed(String key, long now) {
            return true;
        }

        @Override
        public boolean mayServe(String key, String service) {
            return true;
        }

        @Override
        public boolean mayCall(String key, String service) {
            return true;
        }
    };

    /**
     * Whether the connection that authenticated with {@code key} may still be heard: its certificate
     * may have left the allowed directory since the handshake.
     */
    boolean stillAllowed(String key, long now);

    /** Whether a worker with {@code key} may register for {@code service}. */
    boolean mayServe(String key, String service);

    /** Whether a client with {@code key} may send requests to {@code service}. */
    boolean mayCall(String key, String service);
}
