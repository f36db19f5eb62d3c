package org.mdpgateway.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mdpgateway.testing.RawFrames.receive;
import static org.mdpgateway.testing.RawFrames.send;
import static org.mdpgateway.testing.RawFrames.strings;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mdpgateway.mdp.Body;
import org.mdpgateway.mdp.client.MdpClient;
import org.mdpgateway.mdp.security.CurveCertificate;
import org.mdpgateway.mdp.security.CurveClientKeys;
import org.mdpgateway.mdp.worker.MdpWorker;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The broker port's security over real TCP, with raw JeroMQ peers written frame by frame (and our
 * own client and worker libraries where they are what is tested): CURVE with an allowed directory
 * that changes at run time, the ACL, and the loopback-only default.
 */
class BrokerSecurityIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    /** Long enough for a handshake to be refused and nothing to arrive. */
    private static final Duration NOTHING = Duration.ofMillis(700);
    private static final byte[] READY = {1};
    private static final byte[] C_REQUEST = {1};

    @TempDir
    Path dir;
    private Path allowed;
    private CurveCertificate brokerCert;
    private final ZContext context = new ZContext(1);
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Broker broker;

    @BeforeEach
    void keys() throws Exception {
        brokerCert = CurveCertificate.generate();
        brokerCert.writeTo(dir, "broker");
        allowed = Files.createDirectories(dir.resolve("allowed"));
    }

    @AfterEach
    void closeAll() throws Exception {
        Collections.reverse(closeables);
        for (AutoCloseable c : closeables) {
            c.close();
        }
        if (broker != null) {
            broker.close();
        }
        context.close();
    }

    private String startCurve(Path acl) {
        broker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*").withHeartbeat(Duration.ofSeconds(1), 10)
                .withSecurity(BrokerSecurity.curve(dir.resolve("broker.key_secret"), allowed, acl)));
        return broker.boundEndpoints().get(0);
    }

    /** A key pair whose public certificate is in the allowed directory. */
    private CurveCertificate allowedPeer(String name) throws Exception {
        CurveCertificate cert = CurveCertificate.generate();
        Path own = Files.createDirectories(dir.resolve("peers"));
        Path[] files = cert.writeTo(own, name);
        Files.copy(files[0], allowed.resolve(name + ".key"));
        return cert;
    }

    private ZMQ.Socket dealer(String endpoint, CurveCertificate own) {
        ZMQ.Socket socket = context.createSocket(SocketType.DEALER);
        socket.setLinger(0);
        // JeroMQ now and then loses a fresh TCP connection before its handshake; without this the
        // retry waits 30 s (see MdpSockets.DEFAULT_HANDSHAKE_TIMEOUT).
        socket.setHandshakeIvl(500);
        if (own != null) {
            new CurveClientKeys(brokerCert.publicKey(), own).applyTo(socket);
        }
        socket.connect(endpoint);
        return socket;
    }

    /** mmi.service through a raw CURVE client: "200", "404", or null when nothing came back. */
    private String mmiService(String endpoint, CurveCertificate own, String service) {
        ZMQ.Socket client = dealer(endpoint, own);
        try {
            send(client, "MDPC02", C_REQUEST, "mmi.service", service);
            List<byte[]> reply = receive(client, WAIT);
            return reply == null ? null : strings(reply).get(3);
        } finally {
            client.close();
        }
    }

    private String awaitMmi(String endpoint, CurveCertificate own, String service, String expected)
            throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        String last;
        do {
            last = mmiService(endpoint, own, service);
            if (expected.equals(last)) {
                return last;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < end);
        return last;
    }

    @Test
    void allowedCurvePeers_areServed_byFrame() throws Exception {
        String endpoint = startCurve(null);
        CurveCertificate workerKey = allowedPeer("worker");
        CurveCertificate clientKey = allowedPeer("client");
        ZMQ.Socket worker = dealer(endpoint, workerKey);
        send(worker, "MDPW02", READY, "echo");
        assertEquals("200", awaitMmi(endpoint, clientKey, "echo", "200"));

        ZMQ.Socket client = dealer(endpoint, clientKey);
        send(client, "MDPC02", C_REQUEST, "echo", "hello");
        List<byte[]> request = nextNonHeartbeat(worker);
        assertNotNull(request, "the worker got the request");
        assertEquals(List.of("MDPW02", "\u0002"), strings(request).subList(0, 2));
        send(worker, "MDPW02", new byte[] {4}, request.get(2), new byte[0], "hello back");
        List<byte[]> reply = receive(client, WAIT);
        assertNotNull(reply);
        assertEquals(List.of("MDPC02", "\u0003", "echo", "hello back"), strings(reply));
        client.close();
        worker.close();
    }

    @Test
    void anUnknownKey_andAPlainPeer_getNothingAtAll() throws Exception {
        String endpoint = startCurve(null);
        CurveCertificate known = allowedPeer("known");
        CurveCertificate stranger = CurveCertificate.generate();
        assertNull(mmiService(endpoint, stranger, "nothing"), "an unknown key gets no reply");
        ZMQ.Socket plain = dealer(endpoint, null);
        send(plain, "MDPC02", C_REQUEST, "mmi.service", "mmi.service");
        assertNull(receive(plain, NOTHING), "a NULL peer gets nothing from a CURVE broker");
        plain.close();
        // A stranger's READY registers nothing.
        ZMQ.Socket intruder = dealer(endpoint, stranger);
        send(intruder, "MDPW02", READY, "payments");
        Thread.sleep(NOTHING.toMillis());
        assertEquals("404", mmiService(endpoint, known, "payments"));
        intruder.close();
    }

    @Test
    void certificatesAddedAtRunTime_letTheirKeyIn_andRemovedOnesSilenceIt() throws Exception {
        String endpoint = startCurve(null);
        CurveCertificate known = allowedPeer("known");
        CurveCertificate late = CurveCertificate.generate();
        assertNull(mmiService(endpoint, late, "nothing"));
        Path[] files = late.writeTo(dir.resolve("late-certs"), "late");
        Files.copy(files[0], allowed.resolve("late.key"));
        assertEquals("404", mmiService(endpoint, late, "nothing"), "picked up without a restart: answered");

        // A worker whose certificate is removed is cut off at its next message, within about a second.
        ZMQ.Socket worker = dealer(endpoint, late);
        send(worker, "MDPW02", READY, "svc");
        assertEquals("200", awaitMmi(endpoint, known, "svc", "200"));
        Files.delete(allowed.resolve("late.key"));
        boolean disconnected = false;
        long end = System.nanoTime() + WAIT.toNanos();
        while (!disconnected && System.nanoTime() < end) {
            send(worker, "MDPW02", new byte[] {5}); // HEARTBEAT
            List<byte[]> message = receive(worker, Duration.ofMillis(100));
            disconnected = message != null && message.get(1)[0] == 6;
        }
        assertTrue(disconnected, "the revoked worker got DISCONNECT");
        assertEquals("404", mmiService(endpoint, known, "svc"));
        worker.close();
    }

    @Test
    void theAcl_disconnectsAWorkerItDoesNotCover_andDropsAClientsRequest_whileAnotherClientIsServed()
            throws Exception {
        CurveCertificate payments = allowedPeer("payments");
        CurveCertificate alice = allowedPeer("alice");
        CurveCertificate mallory = allowedPeer("mallory");
        Path acl = dir.resolve("acl");
        Files.writeString(acl, "# who may do what\n"
                + "worker payments.* " + payments.publicKey() + "\n"
                + "client payments.* " + alice.publicKey() + "   # alice only\n"
                + "client public.* *\n");
        String endpoint = startCurve(acl);

        ZMQ.Socket rogue = dealer(endpoint, mallory);
        send(rogue, "MDPW02", READY, "payments.refund");
        List<byte[]> refused = receive(rogue, WAIT);
        assertNotNull(refused, "a worker the ACL does not cover is told");
        assertEquals(List.of("MDPW02", "\u0006"), strings(refused), "DISCONNECT");
        rogue.close();

        ZMQ.Socket worker = dealer(endpoint, payments);
        send(worker, "MDPW02", READY, "payments.refund");
        assertEquals("200", awaitMmi(endpoint, mallory, "payments.refund", "200"), "mmi is open to every client");

        ZMQ.Socket denied = dealer(endpoint, mallory);
        send(denied, "MDPC02", C_REQUEST, "payments.refund", "steal");
        ZMQ.Socket served = dealer(endpoint, alice);
        send(served, "MDPC02", C_REQUEST, "payments.refund", "refund 10");
        List<byte[]> request = nextNonHeartbeat(worker);
        assertNotNull(request);
        assertEquals("refund 10", strings(request).get(4), "only alice's request reached the worker");
        send(worker, "MDPW02", new byte[] {4}, request.get(2), new byte[0], "done");
        assertEquals("done", strings(receive(served, WAIT)).get(3));
        assertNull(receive(denied, NOTHING), "the denied client gets nothing");
        assertNull(nextNonHeartbeat(worker, NOTHING));
        ServiceStats stats = broker.stats().get().stream().filter(s -> s.service().equals("payments.refund"))
                .findFirst().orElseThrow();
        assertEquals(1, stats.denied());
        denied.close();
        served.close();
        worker.close();
    }

    @Test
    void ourClientAndWorkerLibraries_speakCurve_withKeysFromCertificateFiles() throws Exception {
        String endpoint = startCurve(null);
        allowedPeer("lib-worker");
        allowedPeer("lib-client");
        Path peers = dir.resolve("peers");
        MdpWorker worker = MdpWorker.builder(endpoint, "upper")
                .curve(dir.resolve("broker.key"), peers.resolve("lib-worker.key_secret"))
                .start((request, partials) -> Body.ofStrings(request.string(0).toUpperCase()));
        closeables.add(worker);
        MdpClient client = MdpClient.builder(endpoint).timeout(WAIT)
                .curve(dir.resolve("broker.key"), peers.resolve("lib-client.key_secret")).build();
        closeables.add(client);
        long end = System.nanoTime() + WAIT.toNanos();
        String answer = null;
        while (answer == null && System.nanoTime() < end) {
            try {
                answer = client.request("upper", Body.ofStrings("curve")).finalBody().string(0);
            } catch (RuntimeException e) {
                Thread.sleep(50); // the worker may not have registered yet
            }
        }
        assertEquals("CURVE", answer);
    }

    @Test
    void withoutCurve_onlyLoopbackPeersGetIn_unlessRemotePeersAreAllowed() throws Exception {
        Optional<InetAddress> local = nonLoopbackAddress();
        Assumptions.assumeTrue(local.isPresent(), "this machine has no non-loopback IPv4 address to connect from");
        String host = local.get().getHostAddress();
        broker = Broker.start(BrokerConfig.defaults("tcp://*:*"));
        int port = Integer.parseInt(broker.boundEndpoints().get(0).replaceAll(".*:", ""));
        assertEquals("404", mmiPlain("tcp://127.0.0.1:" + port, "nothing"), "loopback is let in");
        assertNull(mmiPlain("tcp://" + host + ":" + port, "nothing"), "a non-loopback address gets nothing");
        broker.close();

        broker = Broker.start(BrokerConfig.defaults("tcp://*:*").withSecurity(BrokerSecurity.insecureRemote()));
        port = Integer.parseInt(broker.boundEndpoints().get(0).replaceAll(".*:", ""));
        assertEquals("404", mmiPlain("tcp://" + host + ":" + port, "nothing"), "--allow-insecure-remote lets it in");
    }

    @Test
    void inProcessWorkers_needNoKeys_andASecondBrokerInTheSameContextIsRefused() throws Exception {
        allowedPeer("client");
        try (ZContext shared = new ZContext(1)) {
            Broker curveBroker = Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*", "inproc://secure-broker")
                    .withSecurity(BrokerSecurity.curve(dir.resolve("broker.key_secret"), allowed, null)), shared);
            try {
                MdpWorker inproc = MdpWorker.builder("inproc://secure-broker", "local").context(shared)
                        .start((request, partials) -> request);
                try {
                    String endpoint = curveBroker.boundEndpoints().get(0);
                    CurveCertificate client = CurveCertificate.loadSecret(dir.resolve("peers/client.key_secret"));
                    assertEquals("200", awaitMmi(endpoint, client, "local", "200"), "the in-process worker registered");
                    // ZeroMQ has one ZAP handler per context: a second broker there would go unvetted.
                    IllegalStateException refused = assertThrows(IllegalStateException.class,
                            () -> Broker.start(BrokerConfig.defaults("tcp://127.0.0.1:*"), shared));
                    assertTrue(refused.getMessage().contains("ZAP"), refused.getMessage());
                } finally {
                    inproc.close();
                }
            } finally {
                curveBroker.close();
            }
        }
    }

    @Test
    void aConfigThatWouldFailOpen_isRefused() {
        Path key = dir.resolve("broker.key_secret");
        assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity(key, null, null, false));
        assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity(null, allowed, null, false));
        assertThrows(IllegalArgumentException.class, () -> new BrokerSecurity(null, null, dir.resolve("acl"), false));
        // A missing allowed directory, or a public certificate given as the broker's own, stops the start.
        BrokerConfig missingDir = BrokerConfig.defaults("tcp://127.0.0.1:*")
                .withSecurity(BrokerSecurity.curve(key, dir.resolve("no-such-dir"), null));
        assertTrue(assertThrows(RuntimeException.class, () -> Broker.start(missingDir)).getMessage()
                .contains("no-such-dir"));
        BrokerConfig publicKeyOnly = BrokerConfig.defaults("tcp://127.0.0.1:*")
                .withSecurity(BrokerSecurity.curve(dir.resolve("broker.key"), allowed, null));
        assertTrue(assertThrows(RuntimeException.class, () -> Broker.start(publicKeyOnly)).getMessage()
                .contains("secret"));
    }

    private String mmiPlain(String endpoint, String service) {
        ZMQ.Socket client = dealer(endpoint, null);
        try {
            send(client, "MDPC02", C_REQUEST, "mmi.service", service);
            List<byte[]> reply = receive(client, WAIT);
            return reply == null ? null : strings(reply).get(3);
        } finally {
            client.close();
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws Exception {
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                if (address instanceof Inet4Address && !address.isLoopbackAddress()) {
                    return Optional.of(address);
                }
            }
        }
        return Optional.empty();
    }

    private static List<byte[]> nextNonHeartbeat(ZMQ.Socket worker) {
        return nextNonHeartbeat(worker, WAIT);
    }

    private static List<byte[]> nextNonHeartbeat(ZMQ.Socket worker, Duration wait) {
        long end = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < end) {
            List<byte[]> message = receive(worker, Duration.ofMillis(Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            if (message != null && !(message.size() == 2 && message.get(1).length == 1 && message.get(1)[0] == 5)) {
                return message;
            }
            if (message != null) {
                send(worker, "MDPW02", new byte[] {5}); // answer the broker's heartbeat
            }
        }
        return null;
    }
}
