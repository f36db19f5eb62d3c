package org.mdpgateway.mdp;

import static org.mdpgateway.mdp.MalformedMessageException.Violation.EMPTY_CLIENT_ADDRESS;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.EMPTY_MESSAGE;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.INVALID_SERVICE_NAME;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.MISSING_COMMAND;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.MISSING_DELIMITER;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.TOO_FEW_FRAMES;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.TOO_MANY_FRAMES;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.UNKNOWN_COMMAND;
import static org.mdpgateway.mdp.MalformedMessageException.Violation.UNKNOWN_PROTOCOL;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.mdpgateway.mdp.MdpProtocol.ClientCommandType;
import org.mdpgateway.mdp.MdpProtocol.WorkerCommandType;

/**
 * Frames to commands and commands to frames, exactly as 18/MDP v0.2 lays them out. No sockets: the
 * frames are those of one ZeroMQ message, without the routing-id frame a ROUTER socket adds.
 */
public final class MdpCodec {
    private MdpCodec() {}

    /** Receives the frames of an encoded command in order. */
    interface FrameWriter {
        void write(byte[] frame, boolean more);
    }

    /**
     * Decodes one message. The codec takes ownership of the frame arrays: the body of the command
     * returned shares them, so the caller must not modify them afterwards.
     *
     * @throws MalformedMessageException naming the rule the frames break
     */
    public static MdpCommand decode(List<byte[]> frames) {
        if (frames.isEmpty()) {
            throw malformed(EMPTY_MESSAGE, "message has no frames");
        }
        byte[] header = frames.get(0);
        if (Arrays.equals(header, MdpProtocol.CLIENT_HEADER_BYTES)) {
            return decodeClient(frames);
        }
        if (Arrays.equals(header, MdpProtocol.WORKER_HEADER_BYTES)) {
            return decodeWorker(frames);
        }
        throw malformed(UNKNOWN_PROTOCOL, "frame 0 must be \"MDPC02\" or \"MDPW02\", got "
                + Frames.describe(header, new StringBuilder()));
    }

    private static ClientCommand decodeClient(List<byte[]> frames) {
        byte wireByte = commandByte(frames, "MDPC02");
        ClientCommandType type = ClientCommandType.fromWireByte(wireByte);
        if (type == null) {
            throw malformed(UNKNOWN_COMMAND, String.format("unknown MDPC02 command 0x%02x", wireByte & 0xff));
        }
        // 18/MDP: REQUEST, PARTIAL and FINAL consist of 4 or more frames.
        if (frames.size() < 4) {
            throw malformed(TOO_FEW_FRAMES, "MDPC02 " + type + " needs a service name and at least one body frame ("
                    + "4 or more frames), got " + frames.size() + (frames.size() == 1 ? " frame" : " frames"));
        }
        String service = serviceName(frames.get(2), "MDPC02 " + type);
        Body body = Body.wrap(frames.subList(3, frames.size()));
        switch (type) {
            case REQUEST:
                return new ClientCommand.Request(service, body);
            case PARTIAL:
                return new ClientCommand.Partial(service, body);
            case FINAL:
                return new ClientCommand.Final(service, body);
            default:
                throw new AssertionError(type);
        }
    }

    private static WorkerCommand decodeWorker(List<byte[]> frames) {
        byte wireByte = commandByte(frames, "MDPW02");
        WorkerCommandType type = WorkerCommandType.fromWireByte(wireByte);
        if (type == null) {
            throw malformed(UNKNOWN_COMMAND, String.format("unknown MDPW02 command 0x%02x", wireByte & 0xff));
        }
        switch (type) {
            case READY:
                requireExactFrames(frames, 3, "MDPW02 READY needs exactly a service name (3 frames)");
                return new WorkerCommand.Ready(serviceName(frames.get(2), "MDPW02 READY"));
            case HEARTBEAT:
                requireExactFrames(frames, 2, "MDPW02 HEARTBEAT has exactly 2 frames");
                return WorkerCommand.Heartbeat.INSTANCE;
            case DISCONNECT:
                requireExactFrames(frames, 2, "MDPW02 DISCONNECT has exactly 2 frames");
                return WorkerCommand.Disconnect.INSTANCE;
            default:
                return decodeAddressed(frames, type);
        }
    }

    private static WorkerCommand decodeAddressed(List<byte[]> frames, WorkerCommandType type) {
        // 18/MDP: REQUEST, PARTIAL and FINAL consist of 5 or more frames: header, command, exactly one
        // client address, an empty delimiter, then the body.
        if (frames.size() < 5) {
            throw malformed(TOO_FEW_FRAMES, "MDPW02 " + type + " needs a client address, an empty delimiter and at "
                    + "least one body frame (5 or more frames), got " + frames.size()
                    + (frames.size() == 1 ? " frame" : " frames"));
        }
        byte[] address = frames.get(2);
        if (address.length == 0) {
            throw malformed(EMPTY_CLIENT_ADDRESS, "MDPW02 " + type + " has an empty client address in frame 2");
        }
        if (frames.get(3).length != 0) {
            throw malformed(MISSING_DELIMITER, "MDPW02 " + type
                    + " needs an empty delimiter frame after the client address, frame 3 has "
                    + frames.get(3).length + " bytes");
        }
        RoutingId client = RoutingId.wrapReceived(address);
        Body body = Body.wrap(frames.subList(4, frames.size()));
        switch (type) {
            case REQUEST:
                return new WorkerCommand.Request(client, body);
            case PARTIAL:
                return new WorkerCommand.Partial(client, body);
            case FINAL:
                return new WorkerCommand.Final(client, body);
            default:
                throw new AssertionError(type);
        }
    }

    private static byte commandByte(List<byte[]> frames, String protocol) {
        if (frames.size() < 2) {
            throw malformed(MISSING_COMMAND, protocol + " message has no command frame");
        }
        byte[] command = frames.get(1);
        if (command.length != 1) {
            throw malformed(MISSING_COMMAND, protocol + " command frame must be one byte, got " + command.length
                    + " bytes");
        }
        return command[0];
    }

    private static void requireExactFrames(List<byte[]> frames, int expected, String rule) {
        if (frames.size() < expected) {
            throw malformed(TOO_FEW_FRAMES, rule + ", got " + frames.size());
        }
        if (frames.size() > expected) {
            throw malformed(TOO_MANY_FRAMES, rule + ", got " + frames.size());
        }
    }

    private static String serviceName(byte[] bytes, String command) {
        if (bytes.length == 0) {
            throw malformed(INVALID_SERVICE_NAME, command + " has an empty service name");
        }
        if (bytes.length > MdpProtocol.MAX_SERVICE_NAME_BYTES) {
            throw malformed(INVALID_SERVICE_NAME, command + " service name is " + bytes.length
                    + " bytes, over the limit of " + MdpProtocol.MAX_SERVICE_NAME_BYTES);
        }
        String name = isPrintableAscii(bytes)
                ? new String(bytes, StandardCharsets.ISO_8859_1)
                : Frames.decodeUtf8(bytes);
        if (name == null) {
            throw malformed(INVALID_SERVICE_NAME, command + " service name is not valid UTF-8");
        }
        String problem = MdpProtocol.serviceNameProblem(name);
        if (problem != null) {
            throw malformed(INVALID_SERVICE_NAME, command + " " + problem);
        }
        return name;
    }

    private static boolean isPrintableAscii(byte[] bytes) {
        for (byte b : bytes) {
            if (b < 0x20 || b > 0x7e) {
                return false;
            }
        }
        return true;
    }

    private static MalformedMessageException malformed(MalformedMessageException.Violation violation, String message) {
        return new MalformedMessageException(violation, message);
    }

    /** Encodes {@code command} as fresh frames the caller may keep or modify. */
    public static List<byte[]> encode(MdpCommand command) {
        List<byte[]> frames = new ArrayList<>();
        write(command, (frame, more) -> frames.add(frame.clone()));
        return frames;
    }

    /**
     * Writes the frames of {@code command} to {@code out} without copying them. The writer must not
     * modify or keep them.
     */
    static void write(MdpCommand command, FrameWriter out) {
        if (command instanceof ClientCommand c) {
            out.write(MdpProtocol.CLIENT_HEADER_BYTES, true);
            out.write(c.type().frame(), true);
            out.write(c.service().getBytes(StandardCharsets.UTF_8), true);
            writeBody(c.body(), out);
        } else if (command instanceof WorkerCommand w) {
            out.write(MdpProtocol.WORKER_HEADER_BYTES, true);
            if (w instanceof WorkerCommand.Ready ready) {
                out.write(w.type().frame(), true);
                out.write(ready.service().getBytes(StandardCharsets.UTF_8), false);
            } else if (w instanceof WorkerCommand.Addressed addressed) {
                out.write(w.type().frame(), true);
                out.write(addressed.client().raw(), true);
                out.write(EMPTY_FRAME, true);
                writeBody(addressed.body(), out);
            } else {
                out.write(w.type().frame(), false);
            }
        } else {
            throw new IllegalArgumentException("not an MDP command: " + command);
        }
    }

    private static final byte[] EMPTY_FRAME = new byte[0];

    private static void writeBody(Body body, FrameWriter out) {
        int last = body.size() - 1;
        for (int i = 0; i <= last; i++) {
            out.write(body.rawFrame(i), i < last);
        }
    }
}
