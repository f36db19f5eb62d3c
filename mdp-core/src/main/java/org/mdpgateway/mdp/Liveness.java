package org.mdpgateway.mdp;

/**
 * When a peer that must be heard from at intervals counts as gone. 18/MDP: a peer that hears nothing
 * from the other for liveness x the heartbeat interval takes it for disconnected; any message heard
 * counts, not only a HEARTBEAT. Times are {@link Ticker} readings, compared by difference so that
 * they may wrap. Not thread safe: it belongs to the thread that reads the peer's socket.
 */
public final class Liveness {
    private long lastHeard;
    private long deadline;

    /** A peer first heard at {@code now}, which may then stay silent for {@code allowedSilenceNanos}. */
    public Liveness(long now, long allowedSilenceNanos) {
        heard(now, allowedSilenceNanos);
    }

    /** The peer was heard at {@code now}; from now it may stay silent for {@code allowedSilenceNanos}. */
    public void heard(long now, long allowedSilenceNanos) {
        lastHeard = now;
        deadline = now + allowedSilenceNanos;
    }

    /** As {@link #heard}, but never shortens a longer allowance given before. */
    public void heardAtLeast(long now, long allowedSilenceNanos) {
        lastHeard = now;
        long candidate = now + allowedSilenceNanos;
        if (candidate - deadline > 0) {
            deadline = candidate;
        }
    }

    public boolean isExpired(long now) {
        return now - deadline >= 0;
    }

    /** Nanoseconds left before the peer counts as gone; zero or less once it does. */
    public long remainingNanos(long now) {
        return deadline - now;
    }

    public long silentNanos(long now) {
        return now - lastHeard;
    }
}
