package org.mdpgateway.gateway;

/**
 * Raw bytes: every frame of every part as it is, written from the body without a copy. It has no
 * way to say "error": a reply that fails after it began is cut off.
 */
final class RawEncoder implements ReplyEncoder {
    @Override
    public StreamEvent.Overflow part(StreamEvent.Part part, int seq, ReplySink sink) {
        boolean whole = part.isFinal() && !sink.committed();
        sink.commit(ReplyFormat.RAW.mediaType, true);
        if (whole) {
            // The whole reply is known: a length instead of chunks saves the client a parse and
            // the server a write.
            sink.contentLength(part.bytes());
        }
        for (int i = 0; i < part.body().size(); i++) {
            sink.writeFrame(part.body(), i);
        }
        return null;
    }
}
