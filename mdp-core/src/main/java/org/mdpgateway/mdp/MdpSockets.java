package org.mdpgateway.mdp;

import java.util.ArrayList;
import java.util.List;
import org.zeromq.ZMQ;

/**
 * The one adapter between {@link MdpCodec} and JeroMQ sockets: sends commands without copying their
 * frames and reads whole multipart messages.
 */
public final class MdpSockets {
    private MdpSockets() {}

    /**
     * Sends {@code command} on a DEALER socket without blocking.
     *
     * @return false when the socket could not take the message now (no peer, or its queue is full)
     */
    public static boolean send(ZMQ.Socket socket, MdpCommand command) {
        boolean[] sent = {true};
        MdpCodec.write(command, (frame, more) -> {
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
        if (!router.send(to.raw(), ZMQ.SNDMORE | ZMQ.DONTWAIT)) {
            return false;
        }
        return send(router, command);
    }

    /**
     * Reads one whole multipart message, or returns null when none is waiting. A message is read
     * whole even when a frame is missing its last part.
     */
    public static List<byte[]> receive(ZMQ.Socket socket) {
        byte[] first = socket.recv(ZMQ.DONTWAIT);
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
