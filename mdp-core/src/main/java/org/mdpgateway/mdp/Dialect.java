package org.mdpgateway.mdp;

/**
 * The Majordomo dialects a broker port speaks. Each peer speaks one, fixed by its first valid
 * message; every command to it goes out in that dialect.
 *
 * <pre>
 * dialect    frames a DEALER peer sends (the ROUTER adds and strips the routing id)
 * MDP_02     "MDPC02" | cmd | ...       "MDPW02" | cmd | ...           18/MDP v0.2
 * MDP_01     "" | "MDPC01" | service ... "" | "MDPW01" | cmd | ...      7/MDP as the zguide implements it
 * MAJORTOMO  "" | "MDPC02" | cmd | ...  "" | "MDPW02" | cmd | ...       the majortomo library
 * </pre>
 */
public enum Dialect {
    /** 18/MDP v0.2: the protocol of this project's own client and worker. */
    MDP_02("mdp02"),
    /**
     * MDP/0.1 as the zguide's chapter 4 code implements 7/MDP: an empty frame first; clients send
     * {@code service, body} with no command byte and get one reply; workers READY 0x01, REQUEST
     * 0x02, REPLY 0x03, HEARTBEAT 0x04, DISCONNECT 0x05; there is no PARTIAL.
     */
    MDP_01("mdp01"),
    /**
     * The majortomo library's MDP v0.2: an empty frame first; worker commands numbered as in 18/MDP;
     * the client's REQUEST is 0x02 and its replies PARTIAL 0x03 and FINAL 0x04 carry no service name.
     */
    MAJORTOMO("majortomo");

    private final String label;

    Dialect(String label) {
        this.label = label;
    }

    /** A short, stable name for metrics and JSON: {@code mdp02}, {@code mdp01}, {@code majortomo}. */
    public String label() {
        return label;
    }

    /** False for MDP/0.1, whose clients take exactly one reply: the broker collects PARTIALs for them. */
    public boolean hasPartials() {
        return this != MDP_01;
    }

    /**
     * True when this dialect's workers heartbeat while they work on a request. The zguide's and
     * majortomo's workers heartbeat only while they wait for one.
     */
    public boolean heartbeatsWhileBusy() {
        return this == MDP_02;
    }

    /** The dialect with this label, or null. */
    public static Dialect fromLabel(String label) {
        for (Dialect d : values()) {
            if (d.label.equals(label)) {
                return d;
            }
        }
        return null;
    }
}
