package org.mdpgateway.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.nimbusds.jwt.JWTClaimsSet;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audience and issuer a gateway may require of its JWTs (RFC 8725 section 3.9). */
class JwtVerifierTest {
    private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private static JWTClaimsSet claims(String audience, String issuer) {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder(TestCredentials.claims(List.of("echo")));
        if (audience != null) {
            b.audience(audience);
        }
        if (issuer != null) {
            b.issuer(issuer);
        }
        return b.build();
    }

    @Test
    void withAnAudienceAndAnIssuer_onlyTokensForThisGatewayFromThatIssuerPass() throws Exception {
        Path secret = TestCredentials.write(dir.resolve("secret"), new String(SECRET, StandardCharsets.US_ASCII));
        JwtVerifier verifier = JwtVerifier.hs256(secret, "mdp-gateway", "https://id.example.com");
        assertEquals(ServiceScope.of(List.of("echo")),
                verifier.verify(TestCredentials.hs256(SECRET, claims("mdp-gateway", "https://id.example.com"))));
        assertThrows(InvalidCredentialException.class,
                () -> verifier.verify(TestCredentials.hs256(SECRET, claims("another-system", "https://id.example.com"))),
                "a token for another audience");
        assertThrows(InvalidCredentialException.class,
                () -> verifier.verify(TestCredentials.hs256(SECRET, claims("mdp-gateway", "https://evil.example"))),
                "a token from another issuer");
        assertThrows(InvalidCredentialException.class,
                () -> verifier.verify(TestCredentials.hs256(SECRET, claims(null, null))), "a token with neither");
    }

    @Test
    void withoutThem_audienceAndIssuerAreNotLookedAt() throws Exception {
        Path secret = TestCredentials.write(dir.resolve("secret"), new String(SECRET, StandardCharsets.US_ASCII));
        JwtVerifier verifier = JwtVerifier.hs256(secret);
        assertEquals(ServiceScope.of(List.of("echo")),
                verifier.verify(TestCredentials.hs256(SECRET, claims("anything", "anyone"))));
    }
}
