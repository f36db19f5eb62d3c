package org.mdpgateway.gateway;

import org.mdpgateway.mdp.internal.LogDefaults;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The application: {@code java -jar mdp-gateway.jar [--demo-workers] ...}. */
public final class GatewayMain {
    static {
        LogDefaults.apply();
    }

    private static final Logger log = LoggerFactory.getLogger(GatewayMain.class);

    private GatewayMain() {}

    public static void main(String[] args) {
        GatewayFlags flags;
        try {
            flags = GatewayFlags.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("mdp-gateway: " + e.getMessage());
            System.err.println("Try --help.");
            System.exit(2);
            return;
        }
        if (flags.accessLog()) {
            // Before the HTTP API's logger exists, which reads its level once.
            System.setProperty(LogDefaults.ACCESS_LOG_LEVEL, "info");
        }
        if (flags.help()) {
            System.out.println("Usage: java -jar mdp-gateway.jar [options]");
            System.out.println();
            System.out.println("An HTTP gateway with an embedded Majordomo (MDP/0.2) broker. SIGTERM drains and stops it.");
            System.out.println();
            System.out.print(GatewayFlags.HELP);
            return;
        }
        Gateway gateway;
        try {
            gateway = Gateway.start(flags.config());
        } catch (RuntimeException e) {
            System.err.println("mdp-gateway: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping");
            gateway.close();
            stopped.countDown();
            // A drained stop is a success. Left to itself the JVM exits 143 after SIGTERM, which
            // supervisors (systemd, Kubernetes jobs) read as a failure.
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(0);
        }, "mdp-gateway-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
