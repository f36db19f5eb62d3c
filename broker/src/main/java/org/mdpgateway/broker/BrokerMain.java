package org.mdpgateway.broker;

import org.mdpgateway.mdp.internal.LogDefaults;
import java.util.concurrent.atomic.AtomicBoolean;
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
        int status = BrokerFlags.commandLine(new BrokerFlags()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs the broker until SIGTERM; the exit status if it could not start or its loop failed. */
    static int run(BrokerConfig config) {
        Broker broker;
        try {
            broker = Broker.start(config);
        } catch (RuntimeException e) {
            System.err.println("mdp-broker: " + e.getMessage());
            return 1;
        }
        AtomicBoolean loopFailed = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (loopFailed.get() || !broker.isRunning()) {
                return; // the loop died: not a clean stop, whatever the exit status says
            }
            log.info("stopping: sending DISCONNECT to every worker");
            broker.close();
            // A clean stop is a success. Left to itself the JVM exits 143 after SIGTERM, which
            // supervisors (systemd, Kubernetes jobs) read as a failure.
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(0);
        }, "mdp-broker-shutdown"));
        try {
            if (!broker.awaitStop()) {
                // The loop died on its own: exit, so a supervisor can restart the broker.
                log.error("broker loop ended unexpectedly; exiting");
                loopFailed.set(true);
                return 1;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
