package org.mdpgateway.mdp.internal;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.mdpgateway.mdp.HostResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns configured broker endpoints into the brokers they stand for: the host of each
 * {@code tcp://host:port} becomes every IPv4 address it resolves to (a Kubernetes headless Service
 * gives one per broker pod); any other endpoint, an IP literal of either family among them
 * ({@code tcp://10.0.0.1:5555}, {@code tcp://[::1]:5555}), stands for itself. Shared by the client
 * and the worker.
 *
 * <p>Threads: {@link #resolveAll()} belongs to one thread at a time, the one {@link #every} starts
 * (or a builder's thread before it starts); the memory of the last answers is that thread's.
 */
public final class BrokerResolver {
    private static final Logger log = LoggerFactory.getLogger(BrokerResolver.class);
    private static final Pattern IPV4_LITERAL = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final List<String> configured;
    private final HostResolver resolver;
    private final String owner;
    /** What each configured endpoint resolved to last, for when a lookup fails. */
    private final Map<String, Set<String>> lastResolved = new HashMap<>();

    /** {@code owner} names the client or worker in log lines, e.g. {@code "worker for 'echo'"}. */
    public BrokerResolver(List<String> configured, HostResolver resolver, String owner) {
        this.configured = List.copyOf(configured);
        this.resolver = Objects.requireNonNull(resolver, "resolver");
        this.owner = owner;
    }

    /**
     * The endpoints every configured one stands for now, in order; a name that resolves to no IPv4
     * address stands for none, and one whose lookup fails for what it stood for last time.
     */
    public Set<String> resolveAll() {
        Set<String> endpoints = new LinkedHashSet<>();
        for (String endpoint : configured) {
            URI uri;
            try {
                uri = URI.create(endpoint);
            } catch (IllegalArgumentException e) {
                endpoints.add(endpoint);
                continue;
            }
            if (!"tcp".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 0
                    || isIpLiteral(uri.getHost())) {
                endpoints.add(endpoint);
                continue;
            }
            Set<String> found = new LinkedHashSet<>();
            try {
                for (InetAddress address : resolver.resolve(uri.getHost())) {
                    if (address instanceof Inet4Address) {
                        found.add("tcp://" + address.getHostAddress() + ":" + uri.getPort());
                    }
                }
                if (found.isEmpty()) {
                    log.warn("{}: {} has no IPv4 address", owner, uri.getHost());
                }
                lastResolved.put(endpoint, found);
            } catch (IOException | RuntimeException e) {
                // A failed lookup (a DNS server restarting) is not an answer: the brokers found last
                // time stay, rather than every connection to them being dropped.
                found = lastResolved.getOrDefault(endpoint, Set.of());
                log.warn("{} cannot resolve {} ({}); keeping the {} brokers found before", owner, uri.getHost(),
                        e.toString(), found.size());
            }
            endpoints.addAll(found);
        }
        return endpoints;
    }

    /**
     * Whether {@code host} (as {@link URI#getHost} gives it) is an address rather than a name: an
     * IPv6 literal comes in brackets, an IPv4 one as four decimal numbers. Such a host is not looked
     * up, since the lookup would only give it back (and an IPv6 one would then be left out).
     */
    static boolean isIpLiteral(String host) {
        return host.startsWith("[") || IPV4_LITERAL.matcher(host).matches();
    }

    /**
     * Starts a daemon thread named {@code threadName} that hands {@link #resolveAll()}'s answer to
     * {@code brokers} after {@code initialDelay}, then every {@code every}; shut it down to stop.
     */
    public ScheduledExecutorService every(Duration initialDelay, Duration every, String threadName,
            Consumer<Set<String>> brokers) {
        ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread t = new Thread(runnable, threadName);
            t.setDaemon(true);
            return t;
        });
        thread.scheduleWithFixedDelay(() -> brokers.accept(resolveAll()), initialDelay.toNanos(), every.toNanos(),
                TimeUnit.NANOSECONDS);
        return thread;
    }
}
