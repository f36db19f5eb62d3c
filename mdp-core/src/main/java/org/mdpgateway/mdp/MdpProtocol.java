package org.mdpgateway.mdp;

import java.nio.charset.StandardCharsets;

/**
 * Constants of 18/MDP v0.2 and 8/MMI.
 *
 * <pre>
 * MDP/Client (client DEALER &lt;-&gt; broker ROUTER)
 *   REQUEST   "MDPC02" | 0x01 | service | body frame+      client -> broker
 *   PARTIAL   "MDPC02" | 0x02 | service | body frame+      broker -> client
 *   FINAL     "MDPC02" | 0x03 | service | body frame+      broker -> client
 *
 * MDP/Worker (worker DEALER &lt;-&gt; broker ROUTER)
 *   READY     "MDPW02" | 0x01 | service                    worker -> broker
 *   REQUEST   "MDPW02" | 0x02 | client | "" | body frame+  broker -> worker
 *   PARTIAL   "MDPW02" | 0x03 | client | "" | body frame+  worker -> broker
 *   FINAL     "MDPW02" | 0x04 | client | "" | body frame+  worker -> broker
 *   HEARTBEAT "MDPW02" | 0x05                              both ways
 *   DISCONNECT"MDPW02" | 0x06                              both ways
 * </pre>
 *
 * The ROUTER socket's routing-id frame is not part of a command.
 */
public final class MdpProtocol {
    private MdpProtocol() {}

    public static final String CLIENT_HEADER = "MDPC02";
    public static final String WORKER_HEADER = "MDPW02";

    static final byte[] CLIENT_HEADER_BYTES = CLIENT_HEADER.getBytes(StandardCharsets.US_ASCII);
    static final byte[] WORKER_HEADER_BYTES = WORKER_HEADER.getBytes(StandardCharsets.US_ASCII);

    /** MDP/0.1 (7/MDP as the zguide implements it): the client header. */
    public static final String CLIENT_HEADER_01 = "MDPC01";
    /** MDP/0.1: the worker header. */
    public static final String WORKER_HEADER_01 = "MDPW01";

    static final byte[] CLIENT_HEADER_01_BYTES = CLIENT_HEADER_01.getBytes(StandardCharsets.US_ASCII);
    static final byte[] WORKER_HEADER_01_BYTES = WORKER_HEADER_01.getBytes(StandardCharsets.US_ASCII);

    /**
     * The worker command bytes of MDP/0.1, which has no PARTIAL: READY 0x01, REQUEST 0x02, REPLY
     * 0x03 (a FINAL), HEARTBEAT 0x04, DISCONNECT 0x05.
     */
    static final WorkerCommandType[] WORKER_COMMANDS_01 = {null, WorkerCommandType.READY,
        WorkerCommandType.REQUEST, WorkerCommandType.FINAL, WorkerCommandType.HEARTBEAT,
        WorkerCommandType.DISCONNECT};

    /** The MDP/0.1 wire byte of a worker command, or -1 for PARTIAL, which MDP/0.1 lacks. */
    static int wireByte01(WorkerCommandType type) {
        for (int b = 1; b < WORKER_COMMANDS_01.length; b++) {
            if (WORKER_COMMANDS_01[b] == type) {
                return b;
            }
        }
        return -1;
    }

    /** The longest service name, in UTF-8 bytes: a 0MQ short string. */
    public static final int MAX_SERVICE_NAME_BYTES = 255;

    /** 8/MMI: every service in this namespace is handled by the broker itself. */
    public static final String MMI_PREFIX = "mmi.";
    /** 8/MMI: the service every MMI broker implements. */
    public static final String MMI_SERVICE = "mmi.service";

    /** The commands of MDP/Client, with their wire bytes. */
    public enum ClientCommandType {
        REQUEST(0x01), PARTIAL(0x02), FINAL(0x03);

        private static final ClientCommandType[] BY_BYTE = {null, REQUEST, PARTIAL, FINAL};
        final byte wireByte;
        private final byte[] frame;

        ClientCommandType(int wireByte) {
            this.wireByte = (byte) wireByte;
            this.frame = new byte[] {this.wireByte};
        }

        public byte wireByte() {
            return wireByte;
        }

        byte[] frame() {
            return frame;
        }

        /** The command for a wire byte, or null when the byte names none. */
        static ClientCommandType fromWireByte(byte b) {
            return b > 0 && b < BY_BYTE.length ? BY_BYTE[b] : null;
        }
    }

    /** The commands of MDP/Worker, with their wire bytes. */
    public enum WorkerCommandType {
        READY(0x01), REQUEST(0x02), PARTIAL(0x03), FINAL(0x04), HEARTBEAT(0x05), DISCONNECT(0x06);

        private static final WorkerCommandType[] BY_BYTE =
                {null, READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT};
        final byte wireByte;
        private final byte[] frame;

        WorkerCommandType(int wireByte) {
            this.wireByte = (byte) wireByte;
            this.frame = new byte[] {this.wireByte};
        }

        public byte wireByte() {
            return wireByte;
        }

        byte[] frame() {
            return frame;
        }

        static WorkerCommandType fromWireByte(byte b) {
            return b > 0 && b < BY_BYTE.length ? BY_BYTE[b] : null;
        }
    }

    /** 8/MMI reply codes: the last frame of an {@code mmi.*} FINAL. */
    public enum MmiStatus {
        FOUND("200"), NOT_FOUND("404"), NOT_IMPLEMENTED("501");

        private final String code;

        MmiStatus(String code) {
            this.code = code;
        }

        public String code() {
            return code;
        }

        /** The status whose code is {@code code}, or null. */
        public static MmiStatus fromCode(String code) {
            for (MmiStatus s : values()) {
                if (s.code.equals(code)) {
                    return s;
                }
            }
            return null;
        }
    }

    /** True for a name in the 8/MMI namespace. */
    public static boolean isMmiService(String service) {
        return service.startsWith(MMI_PREFIX);
    }

    /**
     * Why {@code service} is not a valid service name, or null when it is one. A name is a printable
     * string (18/MDP): not empty, at most 255 UTF-8 bytes, no control characters.
     */
    public static String serviceNameProblem(String service) {
        if (service == null || service.isEmpty()) {
            return "service name is empty";
        }
        for (int i = 0; i < service.length(); i++) {
            char c = service.charAt(i);
            if (Character.isISOControl(c)) {
                return String.format("service name has control character U+%04X at index %d", (int) c, i);
            }
            if (Character.isSurrogate(c)
                    && !(Character.isHighSurrogate(c) && i + 1 < service.length()
                            && Character.isLowSurrogate(service.charAt(++i)))) {
                return "service name is not valid Unicode";
            }
        }
        int bytes = utf8Length(service);
        if (bytes > MAX_SERVICE_NAME_BYTES) {
            return "service name is " + bytes + " bytes, over the limit of " + MAX_SERVICE_NAME_BYTES;
        }
        return null;
    }

    /** Throws {@link IllegalArgumentException} unless {@code service} is a valid service name. */
    public static String requireValidServiceName(String service) {
        String problem = serviceNameProblem(service);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return service;
    }

    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
