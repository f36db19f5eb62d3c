package org.mdpgateway.testing;

import java.io.BufferedReader;
import java.io.IOException;

/** Reads a Server-Sent Events stream one event at a time, as a browser's EventSource would. */
public final class SseEvents {
    private SseEvents() {}

    /** One event: its {@code event:} name ("message" when it has none) and its data lines joined. */
    public record Event(String name, String data) {}

    /**
     * The next event, skipping comments (such as {@code : ping}); null when the stream ends first.
     */
    public static Event next(BufferedReader in) throws IOException {
        String name = null;
        StringBuilder data = null;
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                if (data != null) {
                    return new Event(name == null ? "message" : name, data.toString());
                }
                name = null;
            } else if (line.startsWith("event:")) {
                name = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
                String value = line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5);
                data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
            }
        }
        return null;
    }
}
