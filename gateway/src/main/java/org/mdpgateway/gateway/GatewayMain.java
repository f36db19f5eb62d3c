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
        int status = GatewayFlags.commandLine(new GatewayFlags(), System.getenv()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs the gateway until SIGTERM; the exit status if it could not start. */
    static int run(GatewayConfig config, boolean accessLog) {
        if (accessLog) {
            // Before the HTTP API's logger exists, which reads its level once.
            System.setProperty(LogDefaults.ACCESS_LOG_LEVEL, "info");
        }
        Gateway gateway;
        try {
            gateway = Gateway.start(config);
        } catch (RuntimeException e) {
            System.err.println("mdp-gateway: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping");
            boolean healthy = gateway.isBrokerRunning();
            gateway.close();
            stopped.countDown();
            // A drained stop is a success. Left to itself the JVM exits 143 after SIGTERM, which
            // supervisors (systemd, Kubernetes jobs) read as a failure; a broker that had died is not.
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(healthy ? 0 : 1);
        }, "mdp-gateway-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
