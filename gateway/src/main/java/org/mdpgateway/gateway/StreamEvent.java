package org.mdpgateway.gateway;

import org.mdpgateway.broker.RequestFailure;
import org.mdpgateway.mdp.Body;

/**
 * What a reply's writer thread is told, in the order it happened: the broker's parts and failures,
 * the gateway's pings and shutdown, and the response's own news. Events without data are single
 * instances, so queueing them allocates nothing.
 */
sealed interface StreamEvent {
    Ping PING = new Ping();
    Shutdown SHUTDOWN = new Shutdown();
    Writable WRITABLE = new Writable();

    /** A PARTIAL or the FINAL, with its body's size in bytes. */
    record Part(boolean isFinal, Body body, long bytes) implements StreamEvent {}

    /** Bytes of a stream the gateway writes itself (the dashboard's), not a reply. */
    record Bytes(byte[] bytes) implements StreamEvent {}

    /** The request ended without a FINAL. */
    record Failed(RequestFailure failure) implements StreamEvent {}

    /** Too much was waiting: more parts than allowed, or else more bytes. */
    record Overflow(boolean byParts) implements StreamEvent {}

    /** Time for an SSE keep-alive comment. */
    record Ping() implements StreamEvent {}

    /** The gateway is stopping. */
    record Shutdown() implements StreamEvent {}

    /** The response can take more bytes. */
    record Writable() implements StreamEvent {}

    /** The response failed: the client is gone. */
    record ClientError(Throwable cause) implements StreamEvent {}
}
