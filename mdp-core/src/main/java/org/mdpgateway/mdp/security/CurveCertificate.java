package org.mdpgateway.mdp.security;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import org.zeromq.ZCert;
import org.zeromq.ZConfig;
import org.zeromq.ZMQ;

/**
 * A CURVE key pair, or a public key alone, in the ZeroMQ certificate format that czmq, pyzmq's
 * {@code zmq.auth.create_certificates} and JeroMQ's {@link ZCert} all read and write: a
 * {@code curve} section with {@code public-key} and, in the secret file, {@code secret-key}, both in
 * Z85 (40 characters for 32 bytes).
 *
 * @param publicKey Z85
 * @param secretKey Z85, or null for a public certificate
 */
public record CurveCertificate(String publicKey, String secretKey) {
    public CurveCertificate {
        requireKey(publicKey, "public key");
        if (secretKey != null) {
            requireKey(secretKey, "secret key");
        }
    }

    /** A new random key pair. */
    public static CurveCertificate generate() {
        ZCert cert = new ZCert();
        return new CurveCertificate(cert.getPublicKeyAsZ85(), cert.getSecretKeyAsZ85());
    }

    /** Reads a certificate file, public ({@code NAME.key}) or secret ({@code NAME.key_secret}). */
    public static CurveCertificate load(Path file) {
        ZConfig config;
        try {
            config = ZConfig.load(file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the certificate " + file + ": " + e.getMessage(), e);
        }
        String publicKey = config.getValue("curve/public-key");
        if (publicKey == null) {
            throw new IllegalArgumentException(file + " is not a ZeroMQ certificate: it has no curve/public-key");
        }
        try {
            return new CurveCertificate(publicKey, config.getValue("curve/secret-key"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Reads a secret certificate; a public one is refused, as it cannot authenticate anybody. */
    public static CurveCertificate loadSecret(Path file) {
        CurveCertificate cert = load(file);
        if (cert.secretKey == null) {
            throw new IllegalArgumentException(file + " has no curve/secret-key: give the secret certificate "
                    + "(NAME.key_secret), not the public one");
        }
        return cert;
    }

    /**
     * Writes {@code NAME.key} (the public certificate, to hand to peers) and {@code NAME.key_secret}
     * (readable by its owner only) into {@code dir}, which is made if missing; existing files are not
     * overwritten.
     *
     * @return the two files, public first
     */
    public Path[] writeTo(Path dir, String name) throws IOException {
        if (secretKey == null) {
            throw new IllegalStateException("a public certificate has no secret file to write");
        }
        Files.createDirectories(dir);
        Path publicFile = dir.resolve(name + ".key");
        Path secretFile = dir.resolve(name + ".key_secret");
        for (Path f : new Path[] {publicFile, secretFile}) {
            if (Files.exists(f)) {
                throw new FileAlreadyExistsException(f.toString(), null, "not overwriting a certificate");
            }
        }
        ZCert cert = new ZCert(publicKey, secretKey);
        StringWriter secretText = new StringWriter();
        cert.saveSecret(secretText);
        Files.createFile(secretFile);
        try {
            Files.setPosixFilePermissions(secretFile, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // Not a POSIX file system: its own access rules apply.
        }
        Files.writeString(secretFile, secretText.toString(), StandardCharsets.UTF_8);
        StringWriter publicText = new StringWriter();
        cert.savePublic(publicText);
        Files.writeString(publicFile, publicText.toString(), StandardCharsets.UTF_8);
        return new Path[] {publicFile, secretFile};
    }

    /** The public half alone, to hand to peers. */
    public CurveCertificate publicOnly() {
        return new CurveCertificate(publicKey, null);
    }

    public byte[] publicKeyBytes() {
        return ZMQ.Curve.z85Decode(publicKey);
    }

    public byte[] secretKeyBytes() {
        return ZMQ.Curve.z85Decode(Objects.requireNonNull(secretKey, "a public certificate has no secret key"));
    }

    @Override
    public String toString() {
        return "CurveCertificate[" + publicKey + (secretKey != null ? ", with secret key]" : "]");
    }

    private static void requireKey(String z85, String what) {
        Objects.requireNonNull(z85, what);
        byte[] decoded = z85.length() == 40 ? ZMQ.Curve.z85Decode(z85) : null;
        if (decoded == null || decoded.length != 32) {
            throw new IllegalArgumentException("the " + what + " is not a Z85 CURVE key (40 characters)");
        }
    }
}
