package org.mdpgateway.mdp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzzing of the codec with Jazzer. In a normal build this runs the inputs kept under
 * {@code src/test/resources/org/mdpgateway/mdp/MdpCodecFuzzTestInputs/} (and any finding Jazzer saved
 * there) once each; {@code -Pfuzz} sets {@code JAZZER_FUZZ=1}, and Jazzer then searches for two
 * minutes, keeping what it learns in {@code .cifuzz-corpus/}.
 *
 * <p>What must hold for any frames at all: decoding either gives a command or throws
 * {@link MalformedMessageException}, never anything else; and a decoded command encodes, in its own
 * dialect, to frames that decode to a command that encodes to the same frames again.
 */
class MdpCodecFuzzTest {
    /** Headers a message of each dialect starts with, so the fuzzer reaches past the first check often. */
    private static final byte[][] HEADERS = {
        MdpProtocol.CLIENT_HEADER_BYTES, MdpProtocol.WORKER_HEADER_BYTES,
        MdpProtocol.CLIENT_HEADER_01_BYTES, MdpProtocol.WORKER_HEADER_01_BYTES, new byte[0],
        "MMI".getBytes(StandardCharsets.US_ASCII),
    };

    @FuzzTest(maxDuration = "2m")
    void decodesOrRefusesAndReencodesStably(FuzzedDataProvider data) {
        List<byte[]> frames = new ArrayList<>();
        int count = data.consumeInt(0, 12);
        for (int i = 0; i < count; i++) {
            switch (data.consumeInt(0, 3)) {
                case 0 -> frames.add(HEADERS[data.consumeInt(0, HEADERS.length - 1)].clone());
                case 1 -> frames.add(new byte[] {data.consumeByte()}); // a command byte, say
                default -> frames.add(data.consumeBytes(data.consumeInt(0, 300)));
            }
        }
        Dialect dialect;
        MdpCommand command;
        try {
            dialect = MdpCodec.dialectOf(frames);
            command = MdpCodec.decode(dialect, frames);
        } catch (MalformedMessageException refused) {
            return; // what must happen to frames that are not a command
        }
        List<byte[]> encoded = MdpCodec.encode(dialect, command);
        List<byte[]> again = MdpCodec.encode(dialect, MdpCodec.decode(MdpCodec.dialectOf(copy(encoded)), copy(encoded)));
        assertEquals(describe(encoded), describe(again), () -> "re-encoding " + command + " is not stable");
    }

    private static List<byte[]> copy(List<byte[]> frames) {
        List<byte[]> copy = new ArrayList<>(frames.size());
        for (byte[] f : frames) {
            copy.add(f.clone());
        }
        return copy;
    }

    private static String describe(List<byte[]> frames) {
        StringBuilder b = new StringBuilder();
        for (byte[] f : frames) {
            b.append(java.util.HexFormat.of().formatHex(f)).append('|');
        }
        return b.toString();
    }
}
