package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.client.Reply;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.Body;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's client and worker examples, run as written against a real broker. */
class ReadmeExamplesIT {

    @Test
    void workerAndClientExamples_workAsTheReadmeShows() throws Exception {
        try (Broker broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"))) {
            String endpoint = broker.boundEndpoints().get(0);

            // The worker example.
            MdpWorker worker = MdpWorker.builder(endpoint, "count")
                    .heartbeatInterval(Duration.ofMillis(2500))
                    .liveness(3)
                    .start((request, partials) -> {
                        int n = Integer.parseInt(request.string(0));
                        for (int i = 1; i <= n; i++) {
                            partials.send(Body.ofStrings("tick " + i));
                        }
                        return Body.ofStrings("done");
                    });
            MdpWorker echo = MdpWorker.builder(endpoint, "echo").start((request, partials) -> request);

            // The client example.
            List<String> printed = new ArrayList<>();
            try (MdpClient client = MdpClient.builder(endpoint)
                    .timeout(Duration.ofSeconds(5))
                    .attempts(3)
                    .build()) {
                Reply reply = client.request("echo", Body.ofStrings("hello"));
                printed.add(reply.finalBody().string(0));

                Body last = client.stream("count", Body.ofStrings("3"),
                        partial -> printed.add("partial: " + partial.string(0)));
                printed.add(last.string(0));

                CompletableFuture<Reply> pending = client.submit("echo", Body.ofStrings("later"));
                printed.add(pending.get(5, TimeUnit.SECONDS).finalBody().string(0));
            }
            assertEquals(List.of("hello", "partial: tick 1", "partial: tick 2", "partial: tick 3", "done", "later"),
                    printed);
            worker.close();
            echo.close();
        }
    }
}
