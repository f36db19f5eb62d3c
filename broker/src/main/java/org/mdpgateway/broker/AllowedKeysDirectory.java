package org.mdpgateway.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.mdpgateway.mdp.security.CurveCertificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public keys of the certificates in a directory (each file a ZeroMQ certificate, as
 * {@code keygen} or pyzmq writes them; secret certificates count by their public key), read again
 * when the directory's files change: a certificate added or removed takes effect without a restart.
 *
 * <p>Not thread safe: each instance belongs to one thread (the ZAP handler's, or the broker loop's).
 */
final class AllowedKeysDirectory {
    private static final Logger log = LoggerFactory.getLogger(AllowedKeysDirectory.class);

    private record Stamp(long modifiedMillis, long size) {}

    private final Path dir;
    private Map<Path, Stamp> stamps = Map.of();
    private Set<String> keys = Set.of();

    /** Reads {@code dir} now; it must exist, so a typo in a flag stops the broker instead of locking everyone out silently. */
    AllowedKeysDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("the allowed-keys directory " + dir + " does not exist or is not a "
                    + "directory");
        }
        this.dir = dir;
        refresh();
    }

    /** Whether {@code key} (Z85) has a certificate here, as of the last {@link #refresh}. */
    boolean contains(String key) {
        return keys.contains(key);
    }

    int size() {
        return keys.size();
    }

    /** Looks at the files' sizes and times, and reads them all again if any changed, came or went. */
    void refresh() {
        Map<Path, Stamp> now = new HashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                if (attributes.isRegularFile()) {
                    now.put(file, new Stamp(attributes.lastModifiedTime().toMillis(), attributes.size()));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // Keep what was read last rather than let everyone in or lock everyone out on a hiccup.
            log.warn("cannot list the allowed-keys directory {}: {}", dir, e.toString());
            return;
        }
        if (now.equals(stamps)) {
            return;
        }
        Set<String> read = new HashSet<>();
        for (Path file : now.keySet()) {
            try {
                read.add(CurveCertificate.load(file).publicKey());
            } catch (IllegalArgumentException | UncheckedIOException e) {
                log.warn("skipping {} in the allowed-keys directory: {}", file, e.getMessage());
            }
        }
        if (!stamps.isEmpty() || !keys.isEmpty()) {
            log.info("allowed keys reloaded from {}: {} keys", dir, read.size());
        }
        stamps = now;
        keys = Set.copyOf(read);
    }
}
