package org.mdpgateway.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A process the bench starts: a JVM running one of our mains from the bench's own jar, with the same
 * fixed flags for the candidate and the limit alike, its output in a log file.
 */
final class Child implements AutoCloseable {
    /** The same for every JVM we start: a fixed, pre-touched heap, so GC sizing is not a variable. */
    static final List<String> JVM_FLAGS = List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch", "-XX:+UseG1GC");

    /** Set by {@code --jfr}: each JVM writes a flight recording next to its log. */
    static volatile boolean recordFlights;

    private final String name;
    private final Process process;
    private final Path log;

    private Child(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code mainClass} from the bench jar in a new JVM. */
    static Child java(String name, Path logDir, String mainClass, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_FLAGS);
        if (recordFlights) {
            command.add("-XX:StartFlightRecording=settings=profile,filename=" + logDir.resolve(name + ".jfr"));
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(args);
        return start(name, logDir, command);
    }

    static Child start(String name, Path logDir, List<String> command) {
        try {
            Files.createDirectories(logDir);
            Path log = logDir.resolve(name + ".log");
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            return new Child(name, process, log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    long pid() {
        return process.pid();
    }

    /** Waits until a TCP connection to {@code port} on loopback succeeds. */
    Child awaitPort(int port, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            checkAlive();
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return this;
            } catch (IOException e) {
                sleep(50);
            }
        }
        throw new IllegalStateException(name + " did not open port " + port + " in " + timeout + "; see " + log);
    }

    /** Waits until GET {@code url} answers 200. */
    Child awaitHttp200(String url, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            checkAlive();
            if (status(url) == 200) {
                return this;
            }
            sleep(100);
        }
        throw new IllegalStateException(name + ": " + url + " did not answer 200 in " + timeout + "; see " + log);
    }

    /** Waits until the process has printed {@code marker}. */
    Child awaitOutput(String marker, Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            checkAlive();
            try {
                if (Files.readString(log).contains(marker)) {
                    return this;
                }
            } catch (IOException e) {
                // not written yet
            }
            sleep(50);
        }
        throw new IllegalStateException(name + " did not print '" + marker + "' in " + timeout + "; see " + log);
    }

    static int status(String url) {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
            c.setConnectTimeout(500);
            c.setReadTimeout(2000);
            int code = c.getResponseCode();
            c.getInputStream().close();
            return code;
        } catch (IOException e) {
            return -1;
        }
    }

    private void checkAlive() {
        if (!process.isAlive()) {
            throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see " + log);
        }
    }

    /** A port free on loopback now; the child binds it a moment later. */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    @Override
    public void close() {
        process.destroy(); // SIGTERM: our mains drain and stop
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
