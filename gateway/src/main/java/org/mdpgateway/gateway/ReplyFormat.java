package org.mdpgateway.gateway;

import java.util.Locale;

/** How a reply goes back over HTTP, chosen by the request's {@code Accept}. */
enum ReplyFormat {
    /** Server-Sent Events: an event per part, live. */
    SSE("text/event-stream"),
    /** One JSON object per line per part, live. */
    NDJSON("application/x-ndjson"),
    /** One JSON object with every part, after the FINAL. */
    JSON("application/json"),
    /** The bytes of every reply frame, written as each part arrives. */
    RAW("application/octet-stream");

    final String mediaType;

    ReplyFormat(String mediaType) {
        this.mediaType = mediaType;
    }

    boolean isStreaming() {
        return this != JSON;
    }

    /**
     * The format for an {@code Accept} header: the supported media type with the highest quality,
     * the first listed on a tie; raw bytes for anything else, {@code *}{@code /*} and no header.
     */
    static ReplyFormat forAccept(String accept) {
        if (accept == null || accept.isBlank()) {
            return RAW;
        }
        ReplyFormat best = RAW;
        double bestQuality = 0;
        for (String range : accept.split(",")) {
            String[] parts = range.split(";");
            ReplyFormat format = forMediaType(parts[0].trim().toLowerCase(Locale.ROOT));
            if (format == null) {
                continue;
            }
            double quality = 1;
            for (int i = 1; i < parts.length; i++) {
                String param = parts[i].trim();
                if (param.startsWith("q=")) {
                    try {
                        quality = Double.parseDouble(param.substring(2));
                    } catch (NumberFormatException e) {
                        quality = 0;
                    }
                }
            }
            if (quality > bestQuality) {
                best = format;
                bestQuality = quality;
            }
        }
        return best;
    }

    private static ReplyFormat forMediaType(String mediaType) {
        switch (mediaType) {
            case "text/event-stream":
                return SSE;
            case "application/x-ndjson":
            case "application/jsonl":
                return NDJSON;
            case "application/json":
                return JSON;
            case "application/octet-stream":
                return RAW;
            default:
                return null;
        }
    }
}
