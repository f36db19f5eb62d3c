package org.mdpgateway.bench;

import org.mdpgateway.mdp.worker.MdpWorker;
import org.mdpgateway.mdp.Body;
import io.javalin.Javalin;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The processes the bench starts besides our own jars' mains: the bare relay, a process of
 * {@link MdpWorker}s, and bare Javalin servers that are the HTTP limits. Each prints READY when it
 * is up and runs until it is killed.
 */
public final class Roles {
    /** Parts a streaming worker sends before its FINAL. */
    static final int STREAM_PARTIALS = 10;
    private static final byte[] PART = "{\"part\":\"0123456789abcdef0123456789abcdef\"}".getBytes(StandardCharsets.UTF_8);

    private Roles() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "relay" -> Relay.run(args[1]);
            case "workers" -> workers(args[1], args[2], Integer.parseInt(args[3]), args[4]);
            case "javalin-limits" -> javalinLimits(Integer.parseInt(args[1]));
            default -> throw new IllegalArgumentException("unknown role " + args[0]);
        }
    }

    /** {@code count} workers for {@code service}: {@code echo} answers its request, {@code stream} sends ten PARTIALs and a FINAL. */
    private static void workers(String endpoint, String service, int count, String kind) throws InterruptedException {
        List<MdpWorker> workers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            MdpWorker.Builder builder = MdpWorker.builder(endpoint, service);
            workers.add(kind.equals("stream")
                    ? builder.start((request, partials) -> {
                        for (int p = 0; p < STREAM_PARTIALS; p++) {
                            partials.send(Body.of(PART));
                        }
                        return Body.of(PART);
                    })
                    : builder.start((request, partials) -> request));
        }
        System.out.println("READY " + count + " " + kind + " workers for " + service);
        new CountDownLatch(1).await();
    }

    /**
     * Bare Javalin, as the gateway configures it but with no broker behind it: {@code POST /echo}
     * answers the body; {@code POST /sse} sends ten SSE events and a last one, each flushed as its
     * own chunk, the shape of the gateway's SSE reply.
     */
    private static void javalinLimits(int port) {
        byte[] event = ("event: partial\ndata: " + new String(PART, StandardCharsets.UTF_8) + "\n\n")
                .getBytes(StandardCharsets.UTF_8);
        byte[] last = ("event: final\ndata: " + new String(PART, StandardCharsets.UTF_8) + "\n\n")
                .getBytes(StandardCharsets.UTF_8);
        Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.routes.post("/echo", ctx -> ctx.contentType("application/octet-stream").result(ctx.bodyAsBytes()));
            config.routes.post("/sse", ctx -> {
                ctx.contentType("text/event-stream").disableCompression();
                OutputStream out = ctx.res().getOutputStream();
                for (int p = 0; p < STREAM_PARTIALS; p++) {
                    out.write(event);
                    ctx.res().flushBuffer();
                }
                out.write(last);
            });
        }).start("127.0.0.1", port);
        System.out.println("READY javalin on " + port);
    }
}
