package org.mdpgateway.gateway;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Checks Bearer JWTs (RFC 7519) signed with HS256 and a shared secret ({@code --jwt-hs256-secret-file})
 * or with RS256/ES256 and a key of a JWK Set ({@code --jwt-jwks-file}, RFC 7517). The services a token
 * grants are its {@code mdp_services} claim, a JSON list of service globs. Signature, algorithm and the
 * time claims are nimbus-jose-jwt's to check: only the algorithms named here are accepted (never
 * {@code none}, never HS256 with a public key), {@code exp} is required, and {@code exp}/{@code nbf}
 * allow {@link #CLOCK_SKEW_SECONDS} of clock skew.
 *
 * <p>Built at startup and immutable after; nimbus's processor is thread-safe once configured, so every
 * HTTP thread verifies through the same instance.
 */
final class JwtVerifier {
    /** The claim that lists the service globs a token grants. */
    static final String SERVICES_CLAIM = "mdp_services";
    /** The JWT Best Current Practices (RFC 8725 §3.10) leave skew to us; a minute covers NTP-synced hosts. */
    static final int CLOCK_SKEW_SECONDS = 60;
    /** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output, 256 bits. */
    static final int MIN_HS256_SECRET_BYTES = 32;

    private final DefaultJWTProcessor<SecurityContext> processor;
    private final String description;

    private JwtVerifier(JWSVerificationKeySelector<SecurityContext> keys, String description, String audience,
            String issuer) {
        DefaultJWTProcessor<SecurityContext> p = new DefaultJWTProcessor<>();
        p.setJWSKeySelector(keys);
        // exp is required: a token that never expires is a standing key, and API keys exist for that.
        // With an audience and an issuer (RFC 8725 section 3.9), a token the same identity provider
        // signed for another system is refused too.
        JWTClaimsSet.Builder exact = new JWTClaimsSet.Builder();
        if (issuer != null) {
            exact.issuer(issuer);
        }
        DefaultJWTClaimsVerifier<SecurityContext> claims =
                new DefaultJWTClaimsVerifier<>(audience, exact.build(), Set.of("exp"));
        claims.setMaxClockSkew(CLOCK_SKEW_SECONDS);
        p.setJWTClaimsSetVerifier(claims);
        this.processor = p;
        this.description = description + (audience != null ? ", audience " + audience : "")
                + (issuer != null ? ", issuer " + issuer : "");
    }

    /**
     * HS256 with the secret in {@code file} (its bytes, less one trailing line break).
     *
     * @throws IllegalArgumentException when the file cannot be read or the secret is shorter than
     *     {@link #MIN_HS256_SECRET_BYTES}
     */
    static JwtVerifier hs256(Path file) {
        return hs256(file, null, null);
    }

    /** As {@link #hs256(Path)}, also requiring {@code aud} to hold {@code audience} and {@code iss} to be {@code issuer}, unless null. */
    static JwtVerifier hs256(Path file, String audience, String issuer) {
        byte[] secret;
        try {
            secret = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the JWT secret file " + file + ": " + e);
        }
        int length = secret.length;
        if (length > 0 && secret[length - 1] == '\n') {
            length--;
            if (length > 0 && secret[length - 1] == '\r') {
                length--;
            }
        }
        secret = Arrays.copyOf(secret, length);
        if (secret.length < MIN_HS256_SECRET_BYTES) {
            throw new IllegalArgumentException("the JWT secret in " + file + " is " + secret.length
                    + " bytes; HS256 needs at least " + MIN_HS256_SECRET_BYTES + " (RFC 7518 section 3.2)");
        }
        return new JwtVerifier(new JWSVerificationKeySelector<>(JWSAlgorithm.HS256, new ImmutableSecret<>(secret)),
                "HS256 secret", audience, issuer);
    }

    /**
     * RS256 and ES256 with the public keys of the JWK Set in {@code file}; private parts and
     * symmetric keys in it are dropped.
     *
     * @throws IllegalArgumentException when the file cannot be read, is not a JWK Set, or has no RSA
     *     or EC public key
     */
    static JwtVerifier jwks(Path file) {
        return jwks(file, null, null);
    }

    /** As {@link #jwks(Path)}, with the audience and issuer of {@link #hs256(Path, String, String)}. */
    static JwtVerifier jwks(Path file, String audience, String issuer) {
        JWKSet keys;
        try {
            keys = JWKSet.load(file.toFile()).toPublicJWKSet();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the JWK Set file " + file + ": " + e);
        } catch (ParseException e) {
            throw new IllegalArgumentException("the file " + file + " is not a JWK Set: " + e.getMessage());
        }
        List<JWK> usable = keys.getKeys().stream()
                .filter(k -> k.getKeyType() == KeyType.RSA || k.getKeyType() == KeyType.EC).toList();
        if (usable.isEmpty()) {
            throw new IllegalArgumentException("the JWK Set " + file + " has no RSA or EC public key");
        }
        return new JwtVerifier(new JWSVerificationKeySelector<>(Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256),
                new ImmutableJWKSet<>(new JWKSet(usable))), usable.size() + " JWK Set keys", audience, issuer);
    }

    /** Whether {@code value} has the shape of a JWT (RFC 7519 §7.2 steps 1-2), whatever its signature. */
    static boolean looksLikeJwt(String value) {
        try {
            JWTParser.parse(value);
            return true;
        } catch (ParseException e) {
            return false;
        }
    }

    /**
     * The services {@code token} grants.
     *
     * @throws InvalidCredentialException if it is malformed, badly signed, expired, not yet valid, or
     *     its {@code mdp_services} is not a list of non-empty globs
     */
    ServiceScope verify(String token) throws InvalidCredentialException {
        JWTClaimsSet claims;
        try {
            claims = processor.process(token, null);
        } catch (ParseException e) {
            throw new InvalidCredentialException("the token is not a well-formed JWT");
        } catch (BadJWSException e) {
            throw new InvalidCredentialException("the token's signature does not verify");
        } catch (BadJWTException e) {
            // nimbus's own words: "Expired JWT", "JWT before use time", "JWT missing required claims".
            throw new InvalidCredentialException("the token was refused: " + e.getMessage());
        } catch (BadJOSEException e) {
            throw new InvalidCredentialException("the token was refused: " + e.getMessage());
        } catch (JOSEException e) {
            throw new InvalidCredentialException("the token cannot be verified");
        }
        List<String> globs;
        try {
            globs = claims.getStringListClaim(SERVICES_CLAIM);
        } catch (ParseException e) {
            throw new InvalidCredentialException("the token's " + SERVICES_CLAIM + " is not a list of strings");
        }
        if (globs == null) {
            return new ServiceScope(List.of()); // a good token that grants no service: 403, not 401
        }
        try {
            return ServiceScope.of(globs);
        } catch (IllegalArgumentException e) {
            throw new InvalidCredentialException("the token's " + SERVICES_CLAIM + " has an empty glob");
        }
    }

    @Override
    public String toString() {
        return "JWTs verified with " + description;
    }
}
