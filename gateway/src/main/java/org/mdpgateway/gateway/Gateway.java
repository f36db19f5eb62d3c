package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.LifeCycle;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.mdpgateway.broker.Broker;
import org.mdpgateway.broker.BrokerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZContext;

/**
 * A running gateway: the embedded broker, the HTTP server in front of it and, if asked, the demo
 * workers. {@link #close()} drains: readiness turns 503, new requests get 503, requests in flight
 * may finish within the grace period, open streams then end with an error, and everything stops.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    /**
     * Threads that turn reply parts into bytes and hand them to the server. Writes never block (see
     * {@link ReplyStream}), so a slow client holds no thread and a small pool serves every stream.
     */
    private static final int WRITER_THREADS = Math.max(16, Runtime.getRuntime().availableProcessors() * 8);

    private static final AtomicInteger GATEWAYS = new AtomicInteger();

    private final GatewayConfig config;
    /**
     * The ZeroMQ context of the embedded broker and the demo workers, which reach it over
     * {@code inproc}: no TCP, no I/O thread and four times the throughput of a loopback connection.
     * Closed last, after every socket in it.
     */
    private final ZContext zmq = new ZContext(1);
    private final String inprocEndpoint = "inproc://mdp-gateway-" + GATEWAYS.incrementAndGet();
    private final Broker broker;
    private final ExecutorService writers;
    private final ScheduledExecutorService pinger;
    private final GatewayMetrics metrics;
    private final HttpApi api;
    private final Javalin app;
    private final DemoWorkers demo;
    private final TlsConnector tls;
    private volatile boolean draining;
    private volatile boolean closed;

    private Gateway(GatewayConfig config) {
        this.config = config;
        try {
            boolean demoInProcess = config.demoWorkers() && config.demoWorkerBrokers().isEmpty();
            this.broker = Broker.start(demoInProcess ? withInproc(config.broker()) : config.broker(), zmq);
        } catch (RuntimeException | Error e) {
            zmq.close();
            throw e;
        }
        this.writers = Executors.newFixedThreadPool(WRITER_THREADS, daemonThreads("mdp-gateway-writer"));
        this.pinger = Executors.newSingleThreadScheduledExecutor(daemonThreads("mdp-gateway-ping"));
        this.metrics = new GatewayMetrics();
        Javalin started = null;
        HttpApi made = null;
        QueuedThreadPool httpThreads = new QueuedThreadPool(config.httpMaxThreads(), 8, 60_000);
        httpThreads.setName("JettyServerThreadPool");
        this.tls = config.isTls()
                ? new TlsConnector(config.tls(), config.httpHost(), config.httpPort(), config.httpRedirectPort()) : null;
        try {
            ObjectMapper mapper = new ObjectMapper();
            this.api = new HttpApi(broker, config, metrics, mapper, writers, () -> draining);
            made = api;
            this.app = Javalin.create(javalin -> {
                javalin.startup.showJavalinBanner = false;
                javalin.jetty.threadPool = httpThreads;
                javalin.jetty.modifyServer(server -> {
                    // Javalin's default stop is not graceful; this lets requests in flight finish.
                    server.insertHandler(new GracefulHandler());
                    server.setErrorHandler(new JettyProblems(mapper));
                    server.setStopTimeout(Math.max(1, config.drainGrace().toMillis()));
                    // Javalin adds its connectors (or ours, for TLS) just before the server starts; set
                    // the backlog of each before it opens.
                    server.addEventListener(new LifeCycle.Listener() {
                        @Override
                        public void lifeCycleStarting(LifeCycle event) {
                            for (Connector connector : server.getConnectors()) {
                                if (connector instanceof ServerConnector listening) {
                                    listening.setAcceptQueueSize(config.httpAcceptQueue());
                                }
                            }
                        }
                    });
                });
                if (tls != null) {
                    tls.register(javalin);
                }
                api.register(javalin);
            });
            app.start(config.httpHost(), config.httpPort());
            started = app;
            metrics.bindJetty(app.jettyServer().server(), httpThreads); // its connectors exist once started
            long ping = config.pingInterval().toMillis();
            pinger.scheduleAtFixedRate(() -> api.openReplies().forEach(ReplyStream::ping), ping, ping,
                    TimeUnit.MILLISECONDS);
            if (!config.demoWorkers()) {
                this.demo = null;
            } else if (config.demoWorkerBrokers().isEmpty()) {
                this.demo = new DemoWorkers(List.of(inprocEndpoint), zmq, config.broker().heartbeatInterval(), false);
            } else {
                this.demo = new DemoWorkers(config.demoWorkerBrokers(), zmq, config.broker().heartbeatInterval(), true);
            }
        } catch (RuntimeException | Error e) {
            // Whatever part failed, nothing that did start keeps running: no HTTP port without a broker.
            if (started != null) {
                try {
                    started.stop();
                } catch (RuntimeException stopFailure) {
                    e.addSuppressed(stopFailure);
                }
            }
            pinger.shutdownNow();
            if (made != null) {
                made.dashboard().close();
            }
            writers.shutdownNow();
            metrics.close();
            broker.close();
            zmq.close();
            throw e;
        }
        log.info("gateway listening on {}://{}:{} (broker at {}{}){}", config.isTls() ? "https" : "http",
                config.httpHost(), app.port(), String.join(", ", broker.boundEndpoints()),
                demo == null ? "" : config.demoWorkerBrokers().isEmpty() ? ", demo services echo and count"
                        : ", demo services echo and count on " + String.join(", ", config.demoWorkerBrokers()),
                httpRedirectPort() >= 0 ? "; plain HTTP on " + httpRedirectPort() + " redirects to https" : "");
    }

    private BrokerConfig withInproc(BrokerConfig broker) {
        List<String> endpoints = new ArrayList<>(broker.bindEndpoints());
        endpoints.add(inprocEndpoint);
        return broker.withBindEndpoints(endpoints);
    }

    /** Starts the broker, the HTTP server and the demo workers if configured. */
    public static Gateway start(GatewayConfig config) {
        return new Gateway(config);
    }

    /** The HTTP port (the HTTPS port with TLS), resolved when the configured one was 0. */
    public int httpPort() {
        return app.port();
    }

    /** The plain port that redirects to https, resolved when configured as 0; -1 when there is none. */
    public int httpRedirectPort() {
        return tls == null ? -1 : tls.redirectPort();
    }

    public Broker broker() {
        return broker;
    }

    /** False once the embedded broker has stopped, by close or because its loop died. */
    public boolean isBrokerRunning() {
        return broker.isRunning();
    }

    public boolean isDraining() {
        return draining;
    }

    /** A TCP endpoint of the broker that this machine can connect to. */
    String localBrokerEndpoint() {
        List<String> endpoints = broker.boundEndpoints();
        for (String endpoint : endpoints) {
            if (endpoint.startsWith("tcp://")) {
                return endpoint.replace("tcp://0.0.0.0:", "tcp://127.0.0.1:").replace("tcp://*:", "tcp://127.0.0.1:");
            }
        }
        return endpoints.get(0);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        draining = true;
        log.info("gateway draining: {} requests in flight, up to {} ms to finish", api.openReplies().size(),
                config.drainGrace().toMillis());
        awaitNoOpenReplies(config.drainGrace());
        api.openReplies().forEach(ReplyStream::shutdown);
        // Let the writers send those error events before the server stops taking writes.
        awaitNoOpenReplies(Duration.ofSeconds(1));
        api.dashboard().close(); // its streams never end by themselves; the page reconnects to the next gateway
        try {
            app.stop();
        } catch (RuntimeException e) {
            log.warn("HTTP server did not stop cleanly: {}", e.toString());
        }
        pinger.shutdownNow();
        if (demo != null) {
            demo.close();
        }
        broker.close();
        if (broker.hasStopped()) {
            zmq.close();
        } else {
            // Closing the context would close the broker's sockets under its still running thread.
            log.warn("the broker did not stop in time; its ZeroMQ context is left open");
        }
        writers.shutdown();
        metrics.close();
        log.info("gateway stopped");
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Waits up to {@code limit} for every open reply to end. */
    private void awaitNoOpenReplies(Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!api.openReplies().isEmpty() && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
