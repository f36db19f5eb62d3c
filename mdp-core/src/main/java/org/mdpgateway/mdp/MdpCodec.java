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
 * Frames to commands and commands to frames, exactly as 18/MDP v0.2 lays them out, and as the other
 * {@link Dialect}s a broker port speaks lay them out. No sockets: the frames are those of one ZeroMQ
 * message, without the routing-id frame a ROUTER socket adds.
 */
public final class MdpCodec {
    private MdpCodec() {}

    /** Receives the frames of an encoded command in order. */
    public interface FrameWriter {
        void write(byte[] frame, boolean more);
    }

    /**
     * Decodes one 18/MDP v0.2 message. The codec takes ownership of the frame arrays: the body of the
     * command returned shares them, so the caller must not modify them afterwards.
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
            return decodeWorker(frames, 0, "MDPW02", WorkerCommandType::fromWireByte, 1);
        }
        throw malformed(UNKNOWN_PROTOCOL, "frame 0 must be \"MDPC02\" or \"MDPW02\", got "
                + Frames.describe(header, new StringBuilder()));
    }

    /**
     * The dialect a message is written in, told by its first frames: an 18/MDP header first, or an
     * empty frame and then an MDP/0.1 or a majortomo header.
     *
     * @throws MalformedMessageException when the frames start like none of them
     */
    public static Dialect dialectOf(List<byte[]> frames) {
        if (frames.isEmpty()) {
            throw malformed(EMPTY_MESSAGE, "message has no frames");
        }
        if (frames.get(0).length != 0) {
            return Dialect.MDP_02; // decode checks the header itself
        }
        if (frames.size() < 2) {
            throw malformed(UNKNOWN_PROTOCOL, "message is one empty frame, with no protocol header after it");
        }
        byte[] header = frames.get(1);
        if (Arrays.equals(header, MdpProtocol.CLIENT_HEADER_01_BYTES)
                || Arrays.equals(header, MdpProtocol.WORKER_HEADER_01_BYTES)) {
            return Dialect.MDP_01;
        }
        if (Arrays.equals(header, MdpProtocol.CLIENT_HEADER_BYTES)
                || Arrays.equals(header, MdpProtocol.WORKER_HEADER_BYTES)) {
            return Dialect.MAJORTOMO;
        }
        throw malformed(UNKNOWN_PROTOCOL, "after an empty frame 0, frame 1 must be \"MDPC01\", \"MDPW01\", "
                + "\"MDPC02\" or \"MDPW02\", got " + Frames.describe(header, new StringBuilder()));
    }

    /**
     * Decodes one message of {@code dialect} (see {@link #dialectOf}), taking ownership of the frames
     * as {@link #decode(List)} does. Replies of MDP/0.1 and majortomo workers may have no body frame;
     * every request has at least one.
     *
     * @throws MalformedMessageException naming the rule the frames break
     */
    public static MdpCommand decode(Dialect dialect, List<byte[]> frames) {
        switch (dialect) {
            case MDP_02:
                return decode(frames);
            case MDP_01:
                if (Arrays.equals(frames.get(1), MdpProtocol.CLIENT_HEADER_01_BYTES)) {
                    return decodeClient01(frames);
                }
                return decodeWorker(frames, 1, "MDPW01", MdpCodec::workerCommand01, 0);
            case MAJORTOMO:
                if (Arrays.equals(frames.get(1), MdpProtocol.CLIENT_HEADER_BYTES)) {
                    return decodeClientMajortomo(frames);
                }
                return decodeWorker(frames, 1, "majortomo MDPW02", WorkerCommandType::fromWireByte, 0);
            default:
                throw new AssertionError(dialect);
        }
    }

    /** MDP/0.1 client: "" | "MDPC01" | service | body frame+ (a REQ socket adds the empty frame). */
    private static ClientCommand decodeClient01(List<byte[]> frames) {
        if (frames.size() < 4) {
            throw malformed(TOO_FEW_FRAMES, "MDPC01 request needs an empty frame, the header, a service name and "
                    + "at least one body frame (4 or more frames), got " + frames.size());
        }
        String service = serviceName(frames.get(2), "MDPC01 request");
        return new ClientCommand.Request(service, Body.wrap(frames.subList(3, frames.size())));
    }

    /** majortomo client: "" | "MDPC02" | 0x02 | service | body frame+. */
    private static ClientCommand decodeClientMajortomo(List<byte[]> frames) {
        byte wireByte = commandByte(frames, 1, "majortomo MDPC02");
        if (wireByte != WorkerCommandType.REQUEST.wireByte) {
            throw malformed(UNKNOWN_COMMAND, String.format(
                    "majortomo MDPC02 clients send only REQUEST (0x02), got 0x%02x", wireByte & 0xff));
        }
        if (frames.size() < 5) {
            throw malformed(TOO_FEW_FRAMES, "majortomo MDPC02 REQUEST needs a service name and at least one body "
                    + "frame (5 or more frames with the empty one), got " + frames.size());
        }
        String service = serviceName(frames.get(3), "majortomo MDPC02 REQUEST");
        return new ClientCommand.Request(service, Body.wrap(frames.subList(4, frames.size())));
    }

    private static WorkerCommandType workerCommand01(byte b) {
        return b > 0 && b < MdpProtocol.WORKER_COMMANDS_01.length ? MdpProtocol.WORKER_COMMANDS_01[b] : null;
    }

    private static ClientCommand decodeClient(List<byte[]> frames) {
        byte wireByte = commandByte(frames, 0, "MDPC02");
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

    /** Worker command bytes to commands: they differ between dialects. */
    private interface CommandTable {
        WorkerCommandType of(byte wireByte);
    }

    /**
     * A worker command whose header is frame {@code o}; {@code o} is 1 when an empty frame comes first.
     * PARTIAL and FINAL need {@code minReplyBody} body frames (18/MDP: one; the other dialects: none).
     */
    private static WorkerCommand decodeWorker(List<byte[]> frames, int o, String protocol, CommandTable table,
            int minReplyBody) {
        byte wireByte = commandByte(frames, o, protocol);
        WorkerCommandType type = table.of(wireByte);
        if (type == null) {
            throw malformed(UNKNOWN_COMMAND, String.format("unknown %s command 0x%02x", protocol, wireByte & 0xff));
        }
        switch (type) {
            case READY:
                requireExactFrames(frames, o + 3, protocol + " READY needs exactly a service name (" + (o + 3)
                        + " frames)");
                return new WorkerCommand.Ready(serviceName(frames.get(o + 2), protocol + " READY"));
            case HEARTBEAT:
                requireExactFrames(frames, o + 2, protocol + " HEARTBEAT has exactly " + (o + 2) + " frames");
                return WorkerCommand.Heartbeat.INSTANCE;
            case DISCONNECT:
                requireExactFrames(frames, o + 2, protocol + " DISCONNECT has exactly " + (o + 2) + " frames");
                return WorkerCommand.Disconnect.INSTANCE;
            default:
                return decodeAddressed(frames, o, protocol, type, type == WorkerCommandType.REQUEST ? 1 : minReplyBody);
        }
    }

    private static WorkerCommand decodeAddressed(List<byte[]> frames, int o, String protocol, WorkerCommandType type,
            int minBody) {
        // 18/MDP: REQUEST, PARTIAL and FINAL consist of 5 or more frames: header, command, exactly one
        // client address, an empty delimiter, then the body.
        int needed = o + 4 + minBody;
        if (frames.size() < needed) {
            throw malformed(TOO_FEW_FRAMES, protocol + " " + type + " needs a client address, an empty delimiter"
                    + (minBody > 0 ? " and at least one body frame" : "") + " (" + needed + " or more frames), got "
                    + frames.size() + (frames.size() == 1 ? " frame" : " frames"));
        }
        byte[] address = frames.get(o + 2);
        if (address.length == 0) {
            throw malformed(EMPTY_CLIENT_ADDRESS, protocol + " " + type + " has an empty client address in frame "
                    + (o + 2));
        }
        if (frames.get(o + 3).length != 0) {
            throw malformed(MISSING_DELIMITER, protocol + " " + type
                    + " needs an empty delimiter frame after the client address, frame " + (o + 3) + " has "
                    + frames.get(o + 3).length + " bytes");
        }
        RoutingId client = RoutingId.wrapReceived(address);
        Body body = Body.wrap(frames.subList(o + 4, frames.size()));
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

    private static byte commandByte(List<byte[]> frames, int o, String protocol) {
        if (frames.size() < o + 2) {
            throw malformed(MISSING_COMMAND, protocol + " message has no command frame");
        }
        byte[] command = frames.get(o + 1);
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

    /** Encodes {@code command} in {@code dialect} as fresh frames the caller may keep or modify. */
    public static List<byte[]> encode(Dialect dialect, MdpCommand command) {
        List<byte[]> frames = new ArrayList<>();
        write(dialect, command, (frame, more) -> frames.add(frame.clone()));
        return frames;
    }

    /**
     * Writes the 18/MDP frames of {@code command} to {@code out} without copying them. The writer must
     * not modify or keep them.
     */
    public static void write(MdpCommand command, FrameWriter out) {
        if (command instanceof ClientCommand c) {
            out.write(MdpProtocol.CLIENT_HEADER_BYTES, true);
            out.write(c.type().frame(), true);
            out.write(c.service().getBytes(StandardCharsets.UTF_8), true);
            writeBody(c.body(), out, true);
        } else if (command instanceof WorkerCommand w) {
            out.write(MdpProtocol.WORKER_HEADER_BYTES, true);
            writeWorker(w, w.type().frame(), out, true);
        } else {
            throw new IllegalArgumentException("not an MDP command: " + command);
        }
    }

    /**
     * Writes the frames of {@code command} in {@code dialect} to {@code out} without copying them.
     *
     * @throws IllegalArgumentException for a command the dialect does not have: a PARTIAL in MDP/0.1
     */
    public static void write(Dialect dialect, MdpCommand command, FrameWriter out) {
        switch (dialect) {
            case MDP_02 -> write(command, out);
            case MDP_01 -> write01(command, out);
            case MAJORTOMO -> writeMajortomo(command, out);
            default -> throw new AssertionError(dialect);
        }
    }

    private static void write01(MdpCommand command, FrameWriter out) {
        if (command instanceof ClientCommand c) {
            if (c instanceof ClientCommand.Partial) {
                throw new IllegalArgumentException("MDP/0.1 has no PARTIAL: the broker collects them into one reply");
            }
            // A request and its one reply have the same layout: "" | "MDPC01" | service | body.
            out.write(EMPTY_FRAME, true);
            out.write(MdpProtocol.CLIENT_HEADER_01_BYTES, true);
            out.write(c.service().getBytes(StandardCharsets.UTF_8), true);
            writeBody(c.body(), out, true); // the zguide clients expect a body frame
        } else if (command instanceof WorkerCommand w) {
            byte[] commandFrame = WORKER_FRAMES_01[w.type().ordinal()];
            if (commandFrame == null) {
                throw new IllegalArgumentException("MDP/0.1 has no worker " + w.type());
            }
            out.write(EMPTY_FRAME, true);
            out.write(MdpProtocol.WORKER_HEADER_01_BYTES, true);
            writeWorker(w, commandFrame, out, false);
        } else {
            throw new IllegalArgumentException("not an MDP command: " + command);
        }
    }

    private static void writeMajortomo(MdpCommand command, FrameWriter out) {
        out.write(EMPTY_FRAME, true);
        if (command instanceof ClientCommand c) {
            out.write(MdpProtocol.CLIENT_HEADER_BYTES, true);
            if (c instanceof ClientCommand.Request) {
                out.write(WorkerCommandType.REQUEST.frame(), true);
                out.write(c.service().getBytes(StandardCharsets.UTF_8), true);
                writeBody(c.body(), out, true);
            } else {
                // majortomo numbers the replies to a client as the worker's, and names no service.
                WorkerCommandType type = c instanceof ClientCommand.Partial ? WorkerCommandType.PARTIAL
                        : WorkerCommandType.FINAL;
                out.write(type.frame(), !c.body().isEmpty());
                writeBody(c.body(), out, false);
            }
        } else if (command instanceof WorkerCommand w) {
            out.write(MdpProtocol.WORKER_HEADER_BYTES, true);
            writeWorker(w, w.type().frame(), out, false);
        } else {
            throw new IllegalArgumentException("not an MDP command: " + command);
        }
    }

    /** Everything of a worker command after its header. */
    private static void writeWorker(WorkerCommand w, byte[] commandFrame, FrameWriter out, boolean needsBodyFrame) {
        if (w instanceof WorkerCommand.Ready ready) {
            out.write(commandFrame, true);
            out.write(ready.service().getBytes(StandardCharsets.UTF_8), false);
        } else if (w instanceof WorkerCommand.Addressed addressed) {
            out.write(commandFrame, true);
            out.write(addressed.client().raw(), true);
            boolean body = needsBodyFrame || !addressed.body().isEmpty();
            out.write(EMPTY_FRAME, body);
            writeBody(addressed.body(), out, needsBodyFrame);
        } else {
            out.write(commandFrame, false);
        }
    }

    private static final byte[] EMPTY_FRAME = new byte[0];

    /** MDP/0.1 worker command frames, by {@link WorkerCommandType#ordinal()}; null where it has none. */
    private static final byte[][] WORKER_FRAMES_01 = new byte[WorkerCommandType.values().length][];

    static {
        for (WorkerCommandType type : WorkerCommandType.values()) {
            int b = MdpProtocol.wireByte01(type);
            WORKER_FRAMES_01[type.ordinal()] = b < 0 ? null : new byte[] {(byte) b};
        }
    }

    /**
     * Writes the body frames, the last one without "more". An empty body is written as nothing, or as
     * one empty frame where the protocol needs a body frame (18/MDP's "at least one"); the caller
     * wrote the frame before it with "more" only when something follows.
     */
    private static void writeBody(Body body, FrameWriter out, boolean needsBodyFrame) {
        int last = body.size() - 1;
        if (last < 0) {
            if (needsBodyFrame) {
                out.write(EMPTY_FRAME, false);
            }
            return;
        }
        for (int i = 0; i <= last; i++) {
            out.write(body.rawFrame(i), i < last);
        }
    }
}
