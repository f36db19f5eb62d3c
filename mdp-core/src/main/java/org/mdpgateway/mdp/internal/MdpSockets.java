package org.mdpgateway.mdp.internal;

import org.mdpgateway.mdp.MdpCodec;
import org.mdpgateway.mdp.RoutingId;
import org.mdpgateway.mdp.MdpCommand;
import org.mdpgateway.mdp.Dialect;
import org.mdpgateway.mdp.security.CurveClientKeys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The one adapter between {@link MdpCodec} and JeroMQ sockets: sends commands without copying their
 * frames and reads whole multipart messages.
 */
public final class MdpSockets {
    private MdpSockets() {}

    /**
     * How long a new connection may take to finish its ZMTP handshake before it is dropped and
     * retried. JeroMQ 0.6.0's I/O thread sometimes loses a freshly connected TCP channel between
     * its connect and its read registration (a few percent of connects here); such a connection
     * sits idle, and everything queued on it waits, until this timer tears it down. Its own
     * default of 30 s makes that a 30 s stall; one second makes it a short one.
     */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(1);

    /**
     * A DEALER socket connected to {@code endpoint}, without linger, with the given handshake
     * timeout (see {@link #DEFAULT_HANDSHAKE_TIMEOUT}).
     */
    public static ZMQ.Socket connectDealer(ZContext context, String endpoint, Duration handshakeTimeout) {
        return connectDealer(context.createSocket(SocketType.DEALER), endpoint, handshakeTimeout, null);
    }

    /** As {@link #connectDealer(ZContext, String, Duration)}, a CURVE client with {@code curve} unless null. */
    public static ZMQ.Socket connectDealer(ZContext context, String endpoint, Duration handshakeTimeout,
            CurveClientKeys curve) {
        return connectDealer(context.createSocket(SocketType.DEALER), endpoint, handshakeTimeout, curve);
    }

    /** Configures a new DEALER {@code socket} as {@link #connectDealer(ZContext, String, Duration)} does and connects it. */
    public static ZMQ.Socket connectDealer(ZMQ.Socket socket, String endpoint, Duration handshakeTimeout,
            CurveClientKeys curve) {
        socket.setLinger(0);
        socket.setHandshakeIvl((int) Math.min(Integer.MAX_VALUE, handshakeTimeout.toMillis()));
        if (curve != null) {
            curve.applyTo(socket);
        }
        socket.connect(endpoint);
        return socket;
    }

    /**
     * Sends {@code command} on a DEALER socket without blocking.
     *
     * @return false when the socket could not take the message now (no peer, or its queue is full)
     */
    public static boolean send(ZMQ.Socket socket, MdpCommand command) {
        return send(socket, Dialect.MDP_02, command);
    }

    /** As {@link #send(ZMQ.Socket, MdpCommand)}, written in {@code dialect}. */
    public static boolean send(ZMQ.Socket socket, Dialect dialect, MdpCommand command) {
        boolean[] sent = {true};
        MdpCodec.write(dialect, command, (frame, more) -> {
            if (sent[0]) {
                sent[0] = socket.send(frame, more ? ZMQ.SNDMORE | ZMQ.DONTWAIT : ZMQ.DONTWAIT);
            }
        });
        return sent[0];
    }

    /**
     * Sends {@code command} on a ROUTER socket to the peer {@code to} without blocking. A message for a
     * peer that has gone away is dropped by the socket.
     *
     * @return false when the socket could not take the message now
     */
    public static boolean send(ZMQ.Socket router, RoutingId to, MdpCommand command) {
        return send(router, to, Dialect.MDP_02, command);
    }

    /** As {@link #send(ZMQ.Socket, RoutingId, MdpCommand)}, written in the peer's {@code dialect}. */
    public static boolean send(ZMQ.Socket router, RoutingId to, Dialect dialect, MdpCommand command) {
        if (!router.send(to.raw(), ZMQ.SNDMORE | ZMQ.DONTWAIT)) {
            return false;
        }
        return send(router, dialect, command);
    }

    /**
     * Reads one whole multipart message, or returns null when none is waiting. A message is read
     * whole even when a frame is missing its last part.
     */
    public static List<byte[]> receive(ZMQ.Socket socket) {
        return receive(socket, ZMQ.DONTWAIT);
    }

    /**
     * As {@link #receive(ZMQ.Socket)}, with the flags of the first frame's receive: 0 waits up to
     * the socket's receive timeout.
     */
    public static List<byte[]> receive(ZMQ.Socket socket, int flags) {
        byte[] first = socket.recv(flags);
        if (first == null) {
            return null;
        }
        List<byte[]> frames = new ArrayList<>(6);
        frames.add(first);
        while (socket.hasReceiveMore()) {
            frames.add(socket.recv(0));
        }
        return frames;
    }
}
