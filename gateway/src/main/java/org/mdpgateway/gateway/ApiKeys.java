package org.mdpgateway.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The API keys of {@code --api-keys-file}: one key a line, as {@code <sha256-hex of the key>
 * <service-glob>[,<service-glob>...]}; {@code #} starts a comment, blank lines are ignored. Only
 * hashes are stored, so the file (and a heap dump) does not give the keys away.
 *
 * <p>Read once at startup and immutable after, so every HTTP thread may look keys up at once.
 */
final class ApiKeys {
    private static final int SHA256_BYTES = 32;

    private final List<Entry> entries;

    private record Entry(byte[] hash, ServiceScope scope) {}

    private ApiKeys(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /**
     * Reads {@code file}.
     *
     * @throws IllegalArgumentException naming the file and line of the first malformed line, or
     *     saying why the file cannot be read
     */
    static ApiKeys load(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the API keys file " + file + ": " + e);
        }
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int comment = line.indexOf('#');
            String content = (comment >= 0 ? line.substring(0, comment) : line).strip();
            if (content.isEmpty()) {
                continue;
            }
            String where = file + " line " + (i + 1);
            String[] fields = content.split("\\s+");
            if (fields.length != 2) {
                throw new IllegalArgumentException(where
                        + ": expected '<sha256-hex of the key> <service-glob>[,<service-glob>...]'");
            }
            byte[] hash;
            try {
                hash = HexFormat.of().parseHex(fields[0].toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                hash = null;
            }
            if (hash == null || hash.length != SHA256_BYTES) {
                throw new IllegalArgumentException(where + ": the first field must be 64 hex digits, "
                        + "the SHA-256 of the key (printf %s KEY | sha256sum)");
            }
            List<String> globs = Arrays.asList(fields[1].split(",", -1));
            if (globs.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException(where + ": an empty service glob in '" + fields[1] + "'");
            }
            entries.add(new Entry(hash, ServiceScope.of(globs)));
        }
        if (entries.isEmpty()) {
            // Fail closed: a file with no key would let nobody in, which is surely a mistake, not a policy.
            throw new IllegalArgumentException("the API keys file " + file + " has no key");
        }
        return new ApiKeys(entries);
    }

    /**
     * The scope of {@code presented}, if it is one of the keys. Constant time in the key: it is hashed
     * and compared with every entry by {@link MessageDigest#isEqual}, with no early exit, so the
     * timing tells nothing about which key or how much of one matched.
     */
    Optional<ServiceScope> lookup(String presented) {
        byte[] hash = sha256(presented);
        ServiceScope found = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(entry.hash, hash) && found == null) {
                found = entry.scope;
            }
        }
        return Optional.ofNullable(found);
    }

    int size() {
        return entries.size();
    }

    static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    @Override
    public String toString() {
        return entries.size() + " API keys";
    }
}
