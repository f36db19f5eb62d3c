package org.mdpgateway.mdp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.mdpgateway.mdp.MalformedMessageException.Violation;

/**
 * The MDP/0.1 and majortomo layouts, written out frame by frame from the zguide's chapter-4 code and
 * majortomo's {@code protocol.py}, {@code client.py} and {@code worker.py}.
 */
class MdpCodecDialectsTest {
    private static final RoutingId CLIENT = RoutingId.of(new byte[] {0, 'c', 1});

    private static List<byte[]> frames(Object... parts) {
        List<byte[]> frames = new ArrayList<>();
        for (Object p : parts) {
            frames.add(p instanceof byte[] b ? b : ((String) p).getBytes(US_ASCII));
        }
        return frames;
    }

    private static byte[] b(int value) {
        return new byte[] {(byte) value};
    }

    private static void assertFrames(List<byte[]> expected, List<byte[]> actual) {
        assertEquals(expected.size(), actual.size(), "frame count");
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), actual.get(i), "frame " + i);
        }
    }

    private static MdpCommand decode(List<byte[]> frames) {
        return MdpCodec.decode(MdpCodec.dialectOf(frames), frames);
    }

    // ---- telling dialects apart ----------------------------------------------------------------

    @Test
    void dialectOf_tellsTheThreeApartByTheirFirstFrames() {
        assertEquals(Dialect.MDP_02, MdpCodec.dialectOf(frames("MDPC02", b(1), "echo", "x")));
        assertEquals(Dialect.MDP_02, MdpCodec.dialectOf(frames("MDPW02", b(5))));
        assertEquals(Dialect.MDP_01, MdpCodec.dialectOf(frames("", "MDPC01", "echo", "x")));
        assertEquals(Dialect.MDP_01, MdpCodec.dialectOf(frames("", "MDPW01", b(4))));
        assertEquals(Dialect.MAJORTOMO, MdpCodec.dialectOf(frames("", "MDPC02", b(2), "echo", "x")));
        assertEquals(Dialect.MAJORTOMO, MdpCodec.dialectOf(frames("", "MDPW02", b(5))));
    }

    @Test
    void dialectOf_rejectsAnEmptyFrameFollowedByNoKnownHeader() {
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> MdpCodec.dialectOf(frames("", "MDPX09", b(1))));
        assertEquals(Violation.UNKNOWN_PROTOCOL, e.violation());
        assertEquals(Violation.UNKNOWN_PROTOCOL, assertThrows(MalformedMessageException.class,
                () -> MdpCodec.dialectOf(frames(""))).violation());
        assertEquals(Violation.EMPTY_MESSAGE, assertThrows(MalformedMessageException.class,
                () -> MdpCodec.dialectOf(List.of())).violation());
    }

    // ---- MDP/0.1 -------------------------------------------------------------------------------

    @Test
    void mdp01_clientRequest_isServiceAndBodyWithNoCommandByte() {
        assertEquals(new ClientCommand.Request("echo", Body.ofStrings("a", "b")),
                decode(frames("", "MDPC01", "echo", "a", "b")));
    }

    @Test
    void mdp01_reply_hasTheRequestLayout_andAlwaysABodyFrame() {
        assertFrames(frames("", "MDPC01", "echo", "a", "b"),
                MdpCodec.encode(Dialect.MDP_01, new ClientCommand.Final("echo", Body.ofStrings("a", "b"))));
        assertFrames(frames("", "MDPC01", "echo", ""),
                MdpCodec.encode(Dialect.MDP_01, new ClientCommand.Final("echo", Body.empty())));
    }

    @Test
    void mdp01_hasNoPartial() {
        assertThrows(IllegalArgumentException.class,
                () -> MdpCodec.encode(Dialect.MDP_01, new ClientCommand.Partial("echo", Body.ofStrings("p"))));
        assertThrows(IllegalArgumentException.class,
                () -> MdpCodec.encode(Dialect.MDP_01, new WorkerCommand.Partial(CLIENT, Body.ofStrings("p"))));
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPW01", b(6), CLIENT.toByteArray(), "", "p")));
        assertEquals(Violation.UNKNOWN_COMMAND, e.violation());
    }

    @Test
    void mdp01_workerCommands_useTheirOwnNumbers() {
        assertEquals(new WorkerCommand.Ready("echo"), decode(frames("", "MDPW01", b(1), "echo")));
        assertEquals(new WorkerCommand.Final(CLIENT, Body.ofStrings("r")),
                decode(frames("", "MDPW01", b(3), CLIENT.toByteArray(), "", "r")));
        assertEquals(WorkerCommand.Heartbeat.INSTANCE, decode(frames("", "MDPW01", b(4))));
        assertEquals(WorkerCommand.Disconnect.INSTANCE, decode(frames("", "MDPW01", b(5))));

        assertFrames(frames("", "MDPW01", b(2), CLIENT.toByteArray(), "", "x", "y"),
                MdpCodec.encode(Dialect.MDP_01, new WorkerCommand.Request(CLIENT, Body.ofStrings("x", "y"))));
        assertFrames(frames("", "MDPW01", b(4)), MdpCodec.encode(Dialect.MDP_01, WorkerCommand.Heartbeat.INSTANCE));
        assertFrames(frames("", "MDPW01", b(5)), MdpCodec.encode(Dialect.MDP_01, WorkerCommand.Disconnect.INSTANCE));
    }

    @Test
    void mdp01_replyWithNoBodyFrame_isAnEmptyFinal() {
        assertEquals(new WorkerCommand.Final(CLIENT, Body.empty()),
                decode(frames("", "MDPW01", b(3), CLIENT.toByteArray(), "")));
    }

    @Test
    void mdp01_malformedMessagesNameTheirRule() {
        assertEquals(Violation.TOO_FEW_FRAMES, assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPC01", "echo"))).violation());
        assertEquals(Violation.TOO_MANY_FRAMES, assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPW01", b(1), "echo", "extra"))).violation());
        assertEquals(Violation.MISSING_DELIMITER, assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPW01", b(3), CLIENT.toByteArray(), "x", "r"))).violation());
        assertEquals(Violation.INVALID_SERVICE_NAME, assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPC01", "", "x"))).violation());
        assertEquals(Violation.MISSING_COMMAND, assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPW01"))).violation());
    }

    // ---- majortomo -----------------------------------------------------------------------------

    @Test
    void majortomo_clientRequest_isCommand2() {
        assertEquals(new ClientCommand.Request("echo", Body.ofStrings("a")),
                decode(frames("", "MDPC02", b(2), "echo", "a")));
        MalformedMessageException e = assertThrows(MalformedMessageException.class,
                () -> decode(frames("", "MDPC02", b(1), "echo", "a")));
        assertEquals(Violation.UNKNOWN_COMMAND, e.violation());
    }

    @Test
    void majortomo_repliesToAClient_are3And4_withNoServiceFrame() {
        assertFrames(frames("", "MDPC02", b(3), "p1", "p2"),
                MdpCodec.encode(Dialect.MAJORTOMO, new ClientCommand.Partial("echo", Body.ofStrings("p1", "p2"))));
        assertFrames(frames("", "MDPC02", b(4), "f"),
                MdpCodec.encode(Dialect.MAJORTOMO, new ClientCommand.Final("echo", Body.ofStrings("f"))));
        assertFrames(frames("", "MDPC02", b(4)),
                MdpCodec.encode(Dialect.MAJORTOMO, new ClientCommand.Final("echo", Body.empty())));
    }

    @Test
    void majortomo_workerCommands_areThoseOf18Mdp_afterAnEmptyFrame() {
        assertEquals(new WorkerCommand.Ready("echo"), decode(frames("", "MDPW02", b(1), "echo")));
        assertEquals(new WorkerCommand.Partial(CLIENT, Body.ofStrings("p")),
                decode(frames("", "MDPW02", b(3), CLIENT.toByteArray(), "", "p")));
        assertEquals(new WorkerCommand.Final(CLIENT, Body.empty()),
                decode(frames("", "MDPW02", b(4), CLIENT.toByteArray(), "")));
        assertEquals(WorkerCommand.Heartbeat.INSTANCE, decode(frames("", "MDPW02", b(5))));
        assertEquals(WorkerCommand.Disconnect.INSTANCE, decode(frames("", "MDPW02", b(6))));
        assertFrames(frames("", "MDPW02", b(2), CLIENT.toByteArray(), "", "x"),
                MdpCodec.encode(Dialect.MAJORTOMO, new WorkerCommand.Request(CLIENT, Body.ofStrings("x"))));
        assertFrames(frames("", "MDPW02", b(6)), MdpCodec.encode(Dialect.MAJORTOMO, WorkerCommand.Disconnect.INSTANCE));
    }

    // ---- 18/MDP keeps its own rules ------------------------------------------------------------

    @Test
    void mdp02_emptyReply_goesOutWithOneEmptyBodyFrame() {
        // 18/MDP: a FINAL has at least one body frame, so an empty reply from another dialect gets one.
        assertFrames(frames("MDPC02", b(3), "echo", ""),
                MdpCodec.encode(Dialect.MDP_02, new ClientCommand.Final("echo", Body.empty())));
        assertFrames(frames("MDPW02", b(4), CLIENT.toByteArray(), "", ""),
                MdpCodec.encode(new WorkerCommand.Final(CLIENT, Body.empty())));
    }

    @Test
    void mdp02_stillNeedsABodyFrameOnTheWayIn() {
        assertEquals(Violation.TOO_FEW_FRAMES, assertThrows(MalformedMessageException.class,
                () -> decode(frames("MDPW02", b(4), CLIENT.toByteArray(), ""))).violation());
    }

    @Test
    void everyDialect_roundTripsItsOwnCommands() {
        for (Dialect d : Dialect.values()) {
            List<MdpCommand> commands = new ArrayList<>(List.of(new WorkerCommand.Ready("svc"),
                    new WorkerCommand.Final(CLIENT, Body.ofStrings("f", "")), WorkerCommand.Heartbeat.INSTANCE,
                    WorkerCommand.Disconnect.INSTANCE, new ClientCommand.Request("svc", Body.ofStrings("q"))));
            if (d.hasPartials()) {
                commands.add(new WorkerCommand.Partial(CLIENT, Body.ofStrings("p")));
            }
            for (MdpCommand c : commands) {
                List<byte[]> encoded = MdpCodec.encode(d, c);
                assertEquals(d, MdpCodec.dialectOf(encoded), d + " " + c);
                assertEquals(c, MdpCodec.decode(d, encoded), d + " " + c);
            }
        }
        assertTrue(Dialect.MDP_02.heartbeatsWhileBusy() && !Dialect.MDP_01.heartbeatsWhileBusy()
                && !Dialect.MAJORTOMO.heartbeatsWhileBusy());
    }
}
