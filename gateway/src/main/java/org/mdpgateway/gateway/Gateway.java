package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.server.AbstractNetworkConnector;
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
 * workers. {@link #close()} drains: readiness turns 503 at once; for the drain delay everything else
 * is served as before (so a load balancer or Kubernetes can take the gateway out of rotation); then
 * the HTTP ports stop accepting (a new connection is refused, which a proxy may retry elsewhere as
 * nothing was sent) and every response from then on carries {@code Connection: close}. A request that
 * still arrives on a connection opened before is served, since its client had no word that the
 * connection was closing; idle connections close after Jetty's shutdown idle timeout (1 s). Within the
 * grace period the requests in flight finish and the connections close; then a request that still
 * comes gets 503, open streams end with an error, and everything stops.
 *
 * <p>Threads: the constructor builds everything on the caller's thread; after that the broker, the
 * HTTP server and the writers run on their own threads, and {@link #close()} (once, on whichever
 * thread calls it first) moves the drain flags forward, which the HTTP threads read.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);
    /**
     * Threads that turn reply parts into bytes and hand them to the server. Writes never block (see
     * {@link ResponseWriter}), so a slow client holds no thread and one thread a core serves every
     * stream; more would only take turns waking up (measured: 16 cost more CPU per request than 2).
     */
    static final int WRITER_THREADS = Math.max(2, Runtime.getRuntime().availableProcessors());

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
    /** Set first by {@link #close()}: readiness answers 503. */
    private volatile boolean draining;
    /** Set by {@link #close()} after the drain delay: the ports are closed and every response closes its connection. */
    private volatile boolean closingConnections;
    /** Set by {@link #close()} once the drain grace is over: a request that still comes gets 503. */
    private volatile boolean refusing;
    /** Taken by the first {@link #close()}; a later one waits on {@link #stopped} instead. */
    private final AtomicBoolean closing = new AtomicBoolean();
    /** Opened when the first {@link #close()} has released everything. */
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** The port the HTTP server was bound to; Jetty reports -2 once the listener is closed. */
    private final int httpPort;
    private final int httpRedirectPort;

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
            this.api = new HttpApi(broker, config, metrics, mapper, writers, whileRunning(httpThreads), () -> draining,
                    () -> closingConnections, () -> refusing);
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
            this.httpPort = app.port();
            this.httpRedirectPort = tls == null ? -1 : tls.redirectPort();
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
                config.httpHost(), httpPort, String.join(", ", broker.boundEndpoints()),
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
        return httpPort;
    }

    /** The plain port that redirects to https, resolved when configured as 0; -1 when there is none. */
    public int httpRedirectPort() {
        return httpRedirectPort;
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

    /** POST requests begun and not yet ended; see {@link HttpApi#openPosts}. */
    int openPosts() {
        return api.openPosts();
    }

    /**
     * Drains and stops the gateway. A call while another is under way returns only once that one has
     * stopped everything, so that whoever calls it may count on the ports, threads and sockets being
     * released when it returns.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            awaitStopped();
            return;
        }
        try {
            drainAndStop();
        } finally {
            stopped.countDown();
        }
    }

    private void awaitStopped() {
        boolean interrupted = false;
        while (true) {
            try {
                stopped.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // as in the first close: an interrupt does not cut the drain short
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void drainAndStop() {
        draining = true;
        // An interrupt does not cut the drain short (the requests in flight are what it is for); it
        // is kept for whoever called close, and set again at the end.
        boolean interrupted = false;
        long delay = config.drainDelay().toMillis();
        if (delay > 0) {
            log.info("gateway stopping: readiness is 503, serving as before for {} ms, then refusing connections",
                    delay);
            interrupted |= pause(config.drainDelay());
        }
        closingConnections = true;
        stopAccepting();
        api.dashboard().close(); // its streams never end by themselves; the page reconnects to the next gateway
        log.info("gateway draining: {} requests in flight on {} connections, up to {} ms to finish", api.openPosts(),
                openConnections(), config.drainGrace().toMillis());
        interrupted |= sleepUntil(System.nanoTime() + config.drainGrace().toNanos(),
                () -> api.openPosts() == 0 && openConnections() == 0);
        refusing = true;
        api.openReplies().forEach(ReplyStream::shutdown);
        // Let the writers send those error events before the server stops taking writes.
        interrupted |= sleepUntil(System.nanoTime() + Duration.ofSeconds(1).toNanos(), () -> api.openPosts() == 0);
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
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@code pool} as an executor for work that answers an HTTP request. Once the server has stopped,
     * its pool takes no more work and no request can be answered: a broker answer that comes after
     * that is dropped here, rather than thrown at the thread that completed it (the broker's).
     */
    private static java.util.concurrent.Executor whileRunning(QueuedThreadPool pool) {
        return task -> {
            try {
                pool.execute(task);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                log.debug("an answer came after the HTTP server stopped; its connection is closed: {}", e.toString());
            }
        };
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * Closes every HTTP port's listening socket. Jetty 12.1's {@link AbstractNetworkConnector#shutdown()}
     * closes the listener (a new connection is refused), marks the connector shut down (every response
     * sent from then on says {@code Connection: close} and its connection is closed after it) and cuts
     * the idle timeout of the open connections to {@code shutdownIdleTimeout} (1 s).
     *
     * <p>Idle keep-alive connections are not closed at once: a client may be writing its next request
     * on one at that moment (a proxy that reuses its most recent connection first, as nginx does, very
     * likely is), and a close then loses that request, which the client may not send again. They are
     * served instead, and a connection left idle for the shutdown idle timeout is closed by Jetty.
     */
    private void stopAccepting() {
        for (Connector connector : app.jettyServer().server().getConnectors()) {
            if (connector instanceof AbstractNetworkConnector network) {
                network.shutdown();
                log.debug("{} stopped accepting", network);
            }
        }
    }

    /** Connections open on the HTTP ports, idle ones included. */
    int openConnections() {
        int open = 0;
        for (Connector connector : app.jettyServer().server().getConnectors()) {
            open += connector.getConnectedEndPoints().size();
        }
        return open;
    }

    /** Sleeps for all of {@code time}, interrupted or not; returns whether it was interrupted (the flag is then clear). */
    private static boolean pause(Duration time) {
        return sleepUntil(System.nanoTime() + time.toNanos(), () -> false);
    }

    private static boolean sleepUntil(long deadline, java.util.function.BooleanSupplier done) {
        boolean interrupted = false;
        long left;
        while (!done.getAsBoolean() && (left = deadline - System.nanoTime()) > 0) {
            try {
                Thread.sleep(Math.max(1, Math.min(10, left / 1_000_000)));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        return interrupted;
    }
}
