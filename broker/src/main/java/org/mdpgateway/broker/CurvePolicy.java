package org.mdpgateway.broker;

import java.util.HashSet;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The {@link PeerPolicy} of a CURVE broker: a key passes while its certificate is in the allowed
 * directory (looked at again at most once a second, so a certificate removed there silences its
 * peers within about a second, not only new connections), and does what the ACL lets it, or
 * everything without one.
 *
 * <p>Owned by the broker's loop thread, with its own view of the directory. That view may lag the
 * ZAP handler's, which reads the directory at every handshake: a key the handler has just let in
 * reaches this thread through {@link #admitted}, the one thing the two threads share, so its first
 * message is not taken for a revoked key's.
 */
final class CurvePolicy implements PeerPolicy {
    private static final long RECHECK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final AllowedKeysDirectory allowed;
    private final Acl acl;
    /** Keys the ZAP handler let in, from its thread; drained here. */
    private final Queue<String> admitted = new ConcurrentLinkedQueue<>();
    /** Keys let in since the directory was last read here. */
    private final Set<String> admittedSinceRefresh = new HashSet<>();
    private long checkedAt;

    /** @param acl null lets every allowed key do everything */
    CurvePolicy(AllowedKeysDirectory allowed, Acl acl, long now) {
        this.allowed = allowed;
        this.acl = acl;
        this.checkedAt = now;
    }

    /** Called by the ZAP handler, on its thread, for every key it lets in. */
    void admitted(String key) {
        admitted.add(key);
    }

    @Override
    public boolean stillAllowed(String key, long now) {
        if (now - checkedAt >= RECHECK_NANOS) {
            checkedAt = now;
            // Read after the handler's reads that let those keys in: what is on disk now decides.
            admitted.clear();
            admittedSinceRefresh.clear();
            allowed.refresh();
        }
        if (allowed.contains(key)) {
            return true;
        }
        String k;
        while ((k = admitted.poll()) != null) {
            admittedSinceRefresh.add(k);
        }
        return admittedSinceRefresh.contains(key);
    }

    @Override
    public boolean mayServe(String key, String service) {
        return acl == null || acl.mayServe(key, service);
    }

    @Override
    public boolean mayCall(String key, String service) {
        return acl == null || acl.mayCall(key, service);
    }
}
