package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Credentials for tests, made the way an operator makes them: key hashes, JWTs, a PKCS12 key store. */
final class TestCredentials {
    static final String KEYSTORE_PASSWORD = "test-keystore-password";

    private TestCredentials() {}

    /** The line of {@code --api-keys-file} for {@code key}: what {@code printf %s KEY | sha256sum} prints, and the globs. */
    static String keyLine(String key, String globs) {
        return HexFormat.of().formatHex(ApiKeys.sha256(key)) + " " + globs;
    }

    static Path write(Path file, String content) throws IOException {
        return Files.writeString(file, content, UTF_8);
    }

    /** A JWT with {@code mdp_services} = {@code services}, valid from {@code nbf} to {@code exp}. */
    static JWTClaimsSet claims(List<String> services, Instant nbf, Instant exp) {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().subject("test").issueTime(new Date())
                .expirationTime(Date.from(exp)).claim(JwtVerifier.SERVICES_CLAIM, services);
        if (nbf != null) {
            b.notBeforeTime(Date.from(nbf));
        }
        return b.build();
    }

    /** Valid now, for an hour. */
    static JWTClaimsSet claims(List<String> services) {
        return claims(services, Instant.now().minusSeconds(5), Instant.now().plus(Duration.ofHours(1)));
    }

    static String hs256(byte[] secret, JWTClaimsSet claims) throws JOSEException {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(secret));
        return jwt.serialize();
    }

    static String rs256(RSAKey key, JWTClaimsSet claims) throws JOSEException {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    /**
     * A PKCS12 key store made by the JDK's own {@code keytool}, as an operator would make one: an EC
     * key and a self-signed certificate for {@code localhost} and {@code 127.0.0.1}.
     */
    static Path keystore(Path dir) throws IOException, InterruptedException {
        Path store = dir.resolve("gateway.p12");
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-storetype", "PKCS12",
                "-keystore", store.toString(), "-storepass", KEYSTORE_PASSWORD, "-keypass", KEYSTORE_PASSWORD,
                "-alias", "gateway", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1")
                .redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("keytool failed: " + said);
        }
        return store;
    }

    static Path passwordFile(Path dir) throws IOException {
        return write(dir.resolve("keystore-password"), KEYSTORE_PASSWORD + "\n");
    }

    /** A client context that trusts exactly the certificate in {@code store}. */
    static SSLContext trusting(Path store) throws IOException, GeneralSecurityException {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            keys.load(in, KEYSTORE_PASSWORD.toCharArray());
        }
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("gateway", keys.getCertificate("gateway"));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }
}
