package org.mdpgateway.openapi;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;

/**
 * The OpenAPI 3.1 document of the gateway's HTTP API, the single source of truth for it, as a
 * class-path resource of this module's jar.
 */
public final class OpenApiDocument {
    /** Where the document is on the class path. */
    public static final String RESOURCE = "org/mdpgateway/openapi/openapi.yaml";

    private OpenApiDocument() {}

    /** The document's URL on the class path. */
    public static URL url() {
        URL url = OpenApiDocument.class.getClassLoader().getResource(RESOURCE);
        if (url == null) {
            throw new IllegalStateException(RESOURCE + " is missing from the class path");
        }
        return url;
    }

    /** The document as written, YAML in UTF-8. */
    public static byte[] yaml() {
        try (InputStream in = url().openStream()) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }
}
