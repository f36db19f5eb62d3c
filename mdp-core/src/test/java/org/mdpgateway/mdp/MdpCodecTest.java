package org.mdpgateway.mdp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mdpgateway.mdp.MalformedMessageException.Violation;

class MdpCodecTest {
    private static final byte[] EMPTY = {};
    private static final byte[] BINARY = {0, (byte) 0xff, (byte) 0x80, 10, 13, 0};
    private static final RoutingId CLIENT = RoutingId.of(new byte[] {0, 1, 2, 3, (byte) 0xfe});

    private static Body body() {
        return Body.of("hello".getBytes(UTF_8), EMPTY, BINARY);
    }

    static Stream<MdpCommand> everyCommand() {
        return Stream.of(
                new ClientCommand.Request("echo", body()),
                new ClientCommand.Partial("echo", body()),
                new ClientCommand.Final("echo", body()),
                new WorkerCommand.Ready("echo"),
                new WorkerCommand.Request(CLIENT, body()),
                new WorkerCommand.Partial(CLIENT, body()),
                new WorkerCommand.Final(CLIENT, body()),
                WorkerCommand.Heartbeat.INSTANCE,
                WorkerCommand.Disconnect.INSTANCE);
    }

    @ParameterizedTest
    @MethodSource("everyCommand")
    void everyCommand_roundTripsThroughFrames(MdpCommand command) {
        assertEquals(command, MdpCodec.decode(MdpCodec.encode(command)));
    }

    @Test
    void clientRequest_isLaidOutAsSpec18() {
        List<byte[]> frames = MdpCodec.encode(new ClientCommand.Request("echo", body()));
        assertFrames(frames, "MDPC02".getBytes(US_ASCII), new byte[] {1}, "echo".getBytes(US_ASCII),
                "hello".getBytes(UTF_8), EMPTY, BINARY);
    }

    @Test
    void clientPartialAndFinal_carryCommandBytes2And3() {
        assertArrayEquals(new byte[] {2}, MdpCodec.encode(new ClientCommand.Partial("s", body())).get(1));
        assertArrayEquals(new byte[] {3}, MdpCodec.encode(new ClientCommand.Final("s", body())).get(1));
    }

    @Test
    void workerReady_isThreeFrames() {
        assertFrames(MdpCodec.encode(new WorkerCommand.Ready("echo")),
                "MDPW02".getBytes(US_ASCII), new byte[] {1}, "echo".getBytes(US_ASCII));
    }

    @Test
    void workerAddressedCommands_carryClientAddressThenEmptyDelimiter() {
        byte[] address = CLIENT.toByteArray();
        byte[][] expectedTail = {address, EMPTY, "hello".getBytes(UTF_8), EMPTY, BINARY};
        int[] bytes = {2, 3, 4};
        List<MdpCommand> commands = List.of(new WorkerCommand.Request(CLIENT, body()),
                new WorkerCommand.Partial(CLIENT, body()), new WorkerCommand.Final(CLIENT, body()));
        for (int i = 0; i < commands.size(); i++) {
            List<byte[]> frames = MdpCodec.encode(commands.get(i));
            assertArrayEquals("MDPW02".getBytes(US_ASCII), frames.get(0));
            assertArrayEquals(new byte[] {(byte) bytes[i]}, frames.get(1));
            assertFrames(frames.subList(2, frames.size()), expectedTail);
        }
    }

    @Test
    void heartbeatAndDisconnect_areTwoFrames() {
        assertFrames(MdpCodec.encode(WorkerCommand.Heartbeat.INSTANCE), "MDPW02".getBytes(US_ASCII), new byte[] {5});
        assertFrames(MdpCodec.encode(WorkerCommand.Disconnect.INSTANCE), "MDPW02".getBytes(US_ASCII), new byte[] {6});
        assertSame(WorkerCommand.Heartbeat.INSTANCE, MdpCodec.decode(frames("MDPW02", b(5))));
    }

    @Test
    void encode_returnsCopiesTheCallerMayModify() {
        WorkerCommand.Final command = new WorkerCommand.Final(CLIENT, body());
        List<byte[]> frames = MdpCodec.encode(command);
        frames.get(4)[0] = 'X';
        frames.get(2)[0] = 9;
        assertEquals(new WorkerCommand.Final(CLIENT, body()), command);
    }

    @Test
    void unicodeServiceName_roundTrips() {
        ClientCommand.Request request = new ClientCommand.Request("überprüfung.σ", body());
        assertEquals(request, MdpCodec.decode(MdpCodec.encode(request)));
    }

    static Stream<Arguments> malformed() {
        String longName = "s".repeat(256);
        return Stream.of(
                Arguments.of("no frames", List.of(), Violation.EMPTY_MESSAGE),
                Arguments.of("unknown header", frames("MDPC01", b(1), "echo", "x"), Violation.UNKNOWN_PROTOCOL),
                Arguments.of("MDP/0.1 worker header", frames("MDPW01", b(5)), Violation.UNKNOWN_PROTOCOL),
                Arguments.of("empty header", frames("", b(1), "echo", "x"), Violation.UNKNOWN_PROTOCOL),
                Arguments.of("client header only", frames("MDPC02"), Violation.MISSING_COMMAND),
                Arguments.of("worker header only", frames("MDPW02"), Violation.MISSING_COMMAND),
                Arguments.of("two-byte command", frames("MDPW02", new byte[] {5, 0}), Violation.MISSING_COMMAND),
                Arguments.of("empty command", frames("MDPC02", EMPTY, "echo", "x"), Violation.MISSING_COMMAND),
                Arguments.of("client command 0x04", frames("MDPC02", b(4), "echo", "x"), Violation.UNKNOWN_COMMAND),
                Arguments.of("client command 0x00", frames("MDPC02", b(0), "echo", "x"), Violation.UNKNOWN_COMMAND),
                Arguments.of("worker command 0x07", frames("MDPW02", b(7)), Violation.UNKNOWN_COMMAND),
                Arguments.of("worker command 0xff", frames("MDPW02", b(0xff)), Violation.UNKNOWN_COMMAND),
                Arguments.of("client REQUEST without body", frames("MDPC02", b(1), "echo"), Violation.TOO_FEW_FRAMES),
                Arguments.of("client FINAL without service", frames("MDPC02", b(3)), Violation.TOO_FEW_FRAMES),
                Arguments.of("READY without service", frames("MDPW02", b(1)), Violation.TOO_FEW_FRAMES),
                Arguments.of("READY with extra frame", frames("MDPW02", b(1), "echo", "x"), Violation.TOO_MANY_FRAMES),
                Arguments.of("HEARTBEAT with extra frame", frames("MDPW02", b(5), "x"), Violation.TOO_MANY_FRAMES),
                Arguments.of("DISCONNECT with extra frame", frames("MDPW02", b(6), ""), Violation.TOO_MANY_FRAMES),
                Arguments.of("worker REQUEST without body", frames("MDPW02", b(2), "C", ""), Violation.TOO_FEW_FRAMES),
                Arguments.of("worker FINAL, address only", frames("MDPW02", b(4), "C"), Violation.TOO_FEW_FRAMES),
                Arguments.of("worker PARTIAL without delimiter", frames("MDPW02", b(3), "C", "body", "more"),
                        Violation.MISSING_DELIMITER),
                Arguments.of("worker FINAL with two addresses", frames("MDPW02", b(4), "C1", "C2", "", "x"),
                        Violation.MISSING_DELIMITER),
                Arguments.of("worker REQUEST with empty address", frames("MDPW02", b(2), "", "", "x"),
                        Violation.EMPTY_CLIENT_ADDRESS),
                Arguments.of("empty service name", frames("MDPC02", b(1), "", "x"), Violation.INVALID_SERVICE_NAME),
                Arguments.of("empty READY service", frames("MDPW02", b(1), ""), Violation.INVALID_SERVICE_NAME),
                Arguments.of("256-byte service name", frames("MDPC02", b(1), longName, "x"),
                        Violation.INVALID_SERVICE_NAME),
                Arguments.of("control character in name", frames("MDPW02", b(1), "ec\nho"),
                        Violation.INVALID_SERVICE_NAME),
                Arguments.of("NUL in name", frames("MDPC02", b(1), "echo\0", "x"), Violation.INVALID_SERVICE_NAME),
                Arguments.of("name not UTF-8", frames("MDPC02", b(1), new byte[] {'a', (byte) 0xc3}, "x"),
                        Violation.INVALID_SERVICE_NAME));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void malformedInput_isRejectedNamingTheRule(String what, List<byte[]> frames, Violation violation) {
        MalformedMessageException e = assertThrows(MalformedMessageException.class, () -> MdpCodec.decode(frames));
        assertEquals(violation, e.violation(), e.getMessage());
        assertTrue(e.getMessage().length() > 10, "message should explain the rule: " + e.getMessage());
    }

    @Test
    void serviceNameOf255Bytes_isAccepted() {
        String name = "s".repeat(255);
        ClientCommand decoded = (ClientCommand) MdpCodec.decode(frames("MDPC02", b(1), name, "x"));
        assertEquals(name, decoded.service());
    }

    @Test
    void malformedMessage_namesTheBrokenRule() {
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> MdpCodec.decode(frames("MDPW02", b(3), "C", "body", "more")));
        assertTrue(e.getMessage().contains("empty delimiter"), e.getMessage());
        e = assertThrows(MalformedMessageException.class, () -> MdpCodec.decode(frames("XYZ", b(1))));
        assertTrue(e.getMessage().contains("MDPC02") && e.getMessage().contains("\"XYZ\""), e.getMessage());
    }

    @Test
    void decodedBody_keepsEmptyAndBinaryFramesExactly() {
        WorkerCommand.Final fin = assertInstanceOf(WorkerCommand.Final.class,
                MdpCodec.decode(frames("MDPW02", b(4), "C", "", "", BINARY, "")));
        assertEquals(3, fin.body().size());
        assertArrayEquals(EMPTY, fin.body().frame(0));
        assertArrayEquals(BINARY, fin.body().frame(1));
        assertArrayEquals(EMPTY, fin.body().frame(2));
        assertArrayEquals("C".getBytes(US_ASCII), fin.client().toByteArray());
    }

    @Test
    void commandsRejectInvalidFields() {
        assertThrows(IllegalArgumentException.class, () -> new ClientCommand.Request("", body()));
        assertThrows(IllegalArgumentException.class, () -> new ClientCommand.Request("echo", Body.empty()));
        assertThrows(IllegalArgumentException.class, () -> new WorkerCommand.Ready("a\u0007b"));
        assertThrows(IllegalArgumentException.class, () -> new WorkerCommand.Request(CLIENT, Body.empty()));
        assertThrows(IllegalArgumentException.class, () -> RoutingId.of(EMPTY));
    }

    @Test
    void body_isImmutable() {
        byte[] frame = {1, 2, 3};
        Body body = Body.of(frame);
        frame[0] = 9;
        body.frame(0)[1] = 9;
        assertArrayEquals(new byte[] {1, 2, 3}, body.frame(0));
        assertEquals(Body.of(new byte[] {1, 2, 3}), body);
    }

    private static byte[] b(int commandByte) {
        return new byte[] {(byte) commandByte};
    }

    private static List<byte[]> frames(Object... parts) {
        List<byte[]> frames = new ArrayList<>();
        for (Object part : parts) {
            frames.add(part instanceof byte[] bytes ? bytes.clone() : ((String) part).getBytes(UTF_8));
        }
        return frames;
    }

    private static void assertFrames(List<byte[]> actual, byte[]... expected) {
        assertEquals(expected.length, actual.size(), "frame count");
        for (int i = 0; i < expected.length; i++) {
            assertArrayEquals(expected[i], actual.get(i), "frame " + i + " was " + Arrays.toString(actual.get(i)));
        }
    }
}
