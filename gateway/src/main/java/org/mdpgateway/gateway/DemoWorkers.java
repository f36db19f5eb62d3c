package org.mdpgateway.gateway;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.Body;
import java.time.Duration;
import java.util.List;
import org.zeromq.ZContext;

/**
 * The demo services the gateway runs with {@code --demo-workers}, as ordinary MDP workers connected
 * to the embedded broker over {@code inproc}, so a new user's first curl works; or, with
 * {@code --demo-workers-brokers}, to other brokers, every one of them (a sample worker to run
 * anywhere):
 *
 * <ul>
 *   <li>{@code echo}: answers a FINAL with the request's frames.
 *   <li>{@code count}: for a request "N" (default 5, at most 100) sends PARTIALs "1" .. "N", 200 ms
 *       apart, then the FINAL "done".
 * </ul>
 */
final class DemoWorkers implements AutoCloseable {
    static final Duration COUNT_PAUSE = Duration.ofMillis(200);

    private final List<MdpWorker> workers;

    /** How often broker names are looked up again when the demo workers serve other brokers. */
    static final Duration RESOLVE_EVERY = Duration.ofSeconds(10);

    /**
     * @param endpoints the brokers to serve
     * @param resolve whether host names stand for all their addresses, looked up again now and then
     */
    DemoWorkers(List<String> endpoints, ZContext context, Duration heartbeatInterval, boolean resolve) {
        MdpWorker echo = builder(endpoints, "echo", context, heartbeatInterval, resolve)
                .start((request, partials) -> request);
        MdpWorker count = builder(endpoints, "count", context, heartbeatInterval, resolve)
                .start((request, partials) -> {
                    int n = parseCount(request.string(0));
                    for (int i = 1; i <= n; i++) {
                        partials.send(Body.ofStrings(Integer.toString(i)));
                        Thread.sleep(COUNT_PAUSE.toMillis());
                    }
                    return Body.ofStrings("done");
                });
        workers = List.of(echo, count);
    }

    private static MdpWorker.Builder builder(List<String> endpoints, String service, ZContext context,
            Duration heartbeatInterval, boolean resolve) {
        MdpWorker.Builder b = MdpWorker.builder(endpoints, service).context(context).heartbeatInterval(heartbeatInterval);
        return resolve ? b.resolveBrokers(RESOLVE_EVERY) : b;
    }

    private static int parseCount(String text) {
        try {
            return Math.max(0, Math.min(100, Integer.parseInt(text.trim())));
        } catch (NumberFormatException e) {
            return 5;
        }
    }

    @Override
    public void close() {
        workers.forEach(MdpWorker::close);
    }
}
