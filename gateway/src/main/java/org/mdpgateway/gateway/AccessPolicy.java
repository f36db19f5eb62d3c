package org.mdpgateway.gateway;

/**
 * Who may call the HTTP API: the credential sources ({@code --api-keys-file}, {@code --jwt-hs256-secret-file}
 * or {@code --jwt-jwks-file}) and which routes stay open anyway. With no source every route is open, as
 * before there were credentials; with any, every route but health needs one unless made public.
 * Immutable; built at startup.
 *
 * @param apiKeys the API keys, or null for none
 * @param jwt the JWT verifier, or null for none
 * @param publicMetrics whether {@code /metrics} needs no credential
 * @param publicDocs whether {@code /docs}, its files and the OpenAPI document need no credential
 */
record AccessPolicy(ApiKeys apiKeys, JwtVerifier jwt, boolean publicMetrics, boolean publicDocs) {
    /** No credential anywhere: the gateway as it is without any of the flags. */
    static final AccessPolicy OPEN = new AccessPolicy(null, null, false, false);

    boolean requiresCredentials() {
        return apiKeys != null || jwt != null;
    }

    AccessPolicy withApiKeys(ApiKeys keys) {
        return new AccessPolicy(keys, jwt, publicMetrics, publicDocs);
    }

    AccessPolicy withJwt(JwtVerifier verifier) {
        return new AccessPolicy(apiKeys, verifier, publicMetrics, publicDocs);
    }

    AccessPolicy withPublic(boolean metrics, boolean docs) {
        return new AccessPolicy(apiKeys, jwt, metrics, docs);
    }
}
