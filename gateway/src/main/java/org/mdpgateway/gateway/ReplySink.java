package org.mdpgateway.gateway;

import org.mdpgateway.mdp.Body;

/**
 * Where a {@link ReplyEncoder} puts a reply: the head of a 200 response, then bytes and frames in
 * order. Writing only queues them; the response takes them when the client can.
 */
interface ReplySink {
    /** Whether status and headers have been set, so the reply has begun. */
    boolean committed();

    /**
     * Sets status 200 and {@code contentType} once; later calls do nothing. A {@code live} reply,
     * written as it arrives, also tells caches and proxies not to hold it.
     */
    void commit(String contentType, boolean live);

    /** The reply's whole length, when it is known before its first byte. */
    void contentLength(long bytes);

    void write(byte[] bytes);

    /** One frame of {@code body}, written from the body itself without a copy. */
    void writeFrame(Body body, int index);
}
