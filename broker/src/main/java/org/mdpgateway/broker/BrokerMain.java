package org.mdpgateway.broker;

import java.io.PrintStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The standalone broker: {@code java -jar mdp-broker.jar --bind tcp://*:5555}. */
public final class BrokerMain {
    static {
        LogDefaults.apply();
    }

    private static final Logger log = LoggerFactory.getLogger(BrokerMain.class);

    private BrokerMain() {}

    public static void main(String[] args) {
        BrokerFlags flags;
        try {
            flags = BrokerFlags.parseStrict(args);
        } catch (IllegalArgumentException e) {
            System.err.println("mdp-broker: " + e.getMessage());
            System.err.println("Try --help.");
            System.exit(2);
            return;
        }
        if (flags.help()) {
            printHelp(System.out);
            return;
        }
        Broker broker;
        try {
            broker = Broker.start(flags.config());
        } catch (RuntimeException e) {
            System.err.println("mdp-broker: " + e.getMessage());
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping: sending DISCONNECT to every worker");
            broker.close();
        }, "mdp-broker-shutdown"));
        try {
            if (!broker.awaitStop()) {
                // The loop died on its own: exit, so a supervisor can restart the broker.
                log.error("broker loop ended unexpectedly; exiting");
                System.exit(1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void printHelp(PrintStream out) {
        out.println("Usage: java -jar mdp-broker.jar [options]");
        out.println();
        out.println("A Majordomo (MDP/0.2 and MMI) broker. SIGTERM stops it cleanly: workers get DISCONNECT.");
        out.println();
        out.print(BrokerFlags.HELP);
    }
}
