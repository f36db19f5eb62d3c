package org.mdpgateway.broker;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZAuth;
import org.zeromq.ZContext;
import org.zeromq.SocketType;
import org.zeromq.ZMQ;
import org.zeromq.ZMsg;

/**
 * The ZAP handler (ZeroMQ RFC 27) of the broker's context: it decides, once per connection and
 * before any message passes, which peers the broker's socket lets in. Without CURVE it admits NULL
 * connections from loopback addresses only (unless remote ones are allowed, when no handler runs);
 * with CURVE it admits a key only if the allowed directory holds its certificate, read again
 * whenever the directory changes, and hands the key on as the connection's {@code User-Id}, which
 * every message from it carries. A refused peer gets nothing: no reply, no registration.
 *
 * <p>Built and closed by the broker's loop thread; the decisions run on JeroMQ's ZAuth actor
 * thread, which owns the certificate store. One ZAP handler serves a whole ZeroMQ context.
 */
final class ZapHandler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ZapHandler.class);
    /** The ZAP domain the broker's socket asks for; any non-empty domain turns ZAP on for NULL too. */
    static final String DOMAIN = "mdp";
    /** Where ZeroMQ sends each context's ZAP requests (RFC 27). */
    static final String ENDPOINT = "inproc://zeromq.zap.01";
    private static final Pattern IPV4_LITERAL = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private final ZAuth auth;

    private ZapHandler(ZAuth auth) {
        this.auth = auth;
    }

    /** Starts the handler in {@code context}; null when {@code security} needs none. */
    static ZapHandler start(ZContext context, BrokerSecurity security, Consumer<String> onAdmitted) {
        if (!security.needsZap()) {
            return null;
        }
        RateLimitedWarning refusals = new RateLimitedWarning(log, "connections refused");
        Probe probe = new Probe();
        ZAuth.Auth curve = security.curve() ? new AllowedKeys(security, refusals, probe, onAdmitted)
                : new Refuse("CURVE", refusals, probe);
        ZAuth.Auth nullMechanism = security.curve() ? new Refuse("NULL", refusals, probe)
                : new LoopbackOnly(refusals, probe);
        ZAuth auth = new ZAuth(context, "mdp-broker-zap",
                Map.of("NULL", nullMechanism, "CURVE", curve, "PLAIN", new Refuse("PLAIN", refusals, probe)));
        // ZeroMQ lets every connection in when no ZAP handler answers, and ZAuth does not say when it
        // could not bind (one handler per context): so ask, and make sure it was ours that answered.
        if (!probe.answeredBy(context)) {
            auth.close();
            throw new IllegalStateException("another ZAP handler holds " + ENDPOINT + " in this ZeroMQ context (one "
                    + "per context), or ours could not bind it: give this broker a context of its own");
        }
        return new ZapHandler(auth);
    }

    /** A ZAP request only this handler can recognise: proof that it, and no other, answers. */
    private static final class Probe {
        final String marker = "mdp-zap-probe-" + UUID.randomUUID();
        volatile boolean seen;

        boolean answeredBy(ZContext context) {
            ZMQ.Socket req = context.createSocket(SocketType.REQ);
            try {
                req.setLinger(0);
                req.setReceiveTimeOut(2000);
                req.connect(ENDPOINT);
                // RFC 27: version, request id, domain, address, identity, mechanism.
                req.sendMore("1.0");
                req.sendMore("probe");
                req.sendMore(DOMAIN);
                req.sendMore(marker);
                req.sendMore("");
                req.send("NULL");
                byte[] reply = req.recv(0);
                while (reply != null && req.hasReceiveMore()) {
                    req.recv(0);
                }
                return reply != null && seen;
            } finally {
                context.destroySocket(req);
            }
        }
    }

    /** Whether a ZAP address (an IP literal, as ZeroMQ gives it) is a loopback address. */
    static boolean isLoopback(String address) {
        if (address == null || !(IPV4_LITERAL.matcher(address).matches() || address.contains(":"))) {
            return false; // not a literal: never resolved, never trusted
        }
        try {
            return InetAddress.getByName(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    @Override
    public void close() {
        auth.close();
    }

    /** NULL connections from loopback only. */
    private static final class LoopbackOnly extends Decision {
        LoopbackOnly(RateLimitedWarning refusals, Probe probe) {
            super(refusals, probe);
        }

        @Override
        public boolean authorize(ZAuth.ZapRequest request, boolean verbose) {
            return decided(isLoopback(request.address), request, "from a non-loopback address without CURVE");
        }
    }

    /** CURVE connections whose key has a certificate in the allowed directory, as it is at the handshake. */
    private static final class AllowedKeys extends Decision {
        private final AllowedKeysDirectory allowed;
        private final Consumer<String> onAdmitted;

        AllowedKeys(BrokerSecurity security, RateLimitedWarning refusals, Probe probe, Consumer<String> onAdmitted) {
            super(refusals, probe);
            this.allowed = new AllowedKeysDirectory(security.curveAllowedDir());
            this.onAdmitted = onAdmitted;
        }

        @Override
        public boolean authorize(ZAuth.ZapRequest request, boolean verbose) {
            allowed.refresh();
            boolean allowed = request.clientKey != null && this.allowed.contains(request.clientKey);
            if (allowed) {
                request.userId = request.clientKey;
                onAdmitted.accept(request.clientKey);
            }
            return decided(allowed, request, "its key " + request.clientKey + " is not in the allowed directory");
        }
    }

    /** A mechanism this broker does not admit. */
    private static final class Refuse extends Decision {
        private final String mechanism;

        Refuse(String mechanism, RateLimitedWarning refusals, Probe probe) {
            super(refusals, probe);
            this.mechanism = mechanism;
        }

        @Override
        public boolean authorize(ZAuth.ZapRequest request, boolean verbose) {
            return decided(false, request, mechanism + " is not accepted here");
        }
    }

    private abstract static class Decision implements ZAuth.Auth {
        private final RateLimitedWarning refusals;
        private final Probe probe;

        Decision(RateLimitedWarning refusals, Probe probe) {
            this.refusals = refusals;
            this.probe = probe;
        }

        @Override
        public boolean configure(ZMsg configuration, boolean verbose) {
            return true;
        }

        boolean decided(boolean allowed, ZAuth.ZapRequest request, String whyNot) {
            if (probe.marker.equals(request.address)) {
                probe.seen = true;
                return false;
            }
            if (!allowed) {
                log.debug("refused a {} connection from {}: {}", request.mechanism, request.address, whyNot);
                refusals.record(System.nanoTime(), request.mechanism + " from " + request.address + ": " + whyNot);
            }
            return allowed;
        }
    }
}
