package org.mdpgateway.mdp;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;

/** Helpers for describing frames in messages and logs. */
final class Frames {
    private static final int PREVIEW_BYTES = 32;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Frames() {}

    /** Appends a short, printable description of {@code frame} to {@code sb}. */
    static StringBuilder describe(byte[] frame, StringBuilder sb) {
        int n = Math.min(frame.length, PREVIEW_BYTES);
        boolean printable = true;
        for (int i = 0; i < n && printable; i++) {
            printable = frame[i] >= 0x20 && frame[i] < 0x7f;
        }
        if (printable) {
            sb.append('"').append(new String(frame, 0, n, StandardCharsets.US_ASCII));
            sb.append(frame.length > n ? "...\"" : "\"");
        } else {
            sb.append("0x");
            for (int i = 0; i < n; i++) {
                sb.append(HEX[(frame[i] >> 4) & 0xf]).append(HEX[frame[i] & 0xf]);
            }
            if (frame.length > n) {
                sb.append("...");
            }
        }
        if (frame.length > n) {
            sb.append('(').append(frame.length).append(" bytes)");
        }
        return sb;
    }

    /** Decodes strict UTF-8, or returns null when {@code bytes} are not valid UTF-8. */
    static String decodeUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
