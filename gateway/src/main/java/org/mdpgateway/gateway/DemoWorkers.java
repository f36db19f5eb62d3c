package org.mdpgateway.gateway;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.Body;
import java.time.Duration;
import java.util.List;
import org.zeromq.ZContext;

/**
 * The demo services the gateway runs with {@code --demo-workers}, as ordinary MDP workers connected
 * to the embedded broker over {@code inproc}, so a new user's first curl works:
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

    DemoWorkers(String endpoint, ZContext context, Duration heartbeatInterval) {
        MdpWorker echo = MdpWorker.builder(endpoint, "echo").context(context).heartbeatInterval(heartbeatInterval)
                .start((request, partials) -> request);
        MdpWorker count = MdpWorker.builder(endpoint, "count").context(context).heartbeatInterval(heartbeatInterval)
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
