package org.mdpgateway.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.mdpgateway.openapi.OpenApiDocument;

/**
 * The API's own documentation: the OpenAPI document as YAML ({@code /openapi.yaml}) and JSON
 * ({@code /openapi.json}), Swagger UI at {@code /docs} with its files at {@code /docs/{asset}}, all
 * from our own class path so nothing is fetched from another host, and {@code /} sending a browser
 * to {@code /docs}.
 */
final class DocsRoutes {
    static final String YAML_MEDIA_TYPE = "application/yaml";
    private static final String WEBJAR_POM = "META-INF/maven/org.webjars/swagger-ui/pom.properties";
    /** Files of the Swagger UI distribution we do not serve: its own page loads the petstore example. */
    private static final Set<String> HIDDEN_ASSETS = Set.of("index.html", "swagger-initializer.js");
    private static final Map<String, String> MEDIA_TYPES = Map.of(
            "js", "text/javascript",
            "css", "text/css",
            "html", "text/html",
            "png", "image/png",
            "txt", "text/plain",
            "map", "application/json");

    private final byte[] yaml;
    private final byte[] json;
    private final String swaggerUiVersion;
    private final String assetRoot;
    private final byte[] page;
    private final Map<String, Optional<byte[]>> assets = new ConcurrentHashMap<>();

    DocsRoutes(ObjectMapper mapper) {
        this.yaml = OpenApiDocument.yaml();
        try {
            JsonNode document = new YAMLMapper().readTree(yaml);
            this.json = mapper.writeValueAsBytes(document);
        } catch (IOException e) {
            throw new UncheckedIOException("the OpenAPI document is not valid YAML", e);
        }
        this.swaggerUiVersion = webjarVersion();
        this.assetRoot = "META-INF/resources/webjars/swagger-ui/" + swaggerUiVersion + "/";
        this.page = page().getBytes(StandardCharsets.UTF_8);
    }

    void register(JavalinConfig javalin) {
        javalin.routes.get("/openapi.yaml", ctx -> ctx.contentType(YAML_MEDIA_TYPE).result(yaml));
        javalin.routes.get("/openapi.json", ctx -> ctx.contentType("application/json").result(json));
        javalin.routes.get("/docs", ctx -> ctx.contentType("text/html; charset=utf-8").result(page));
        javalin.routes.get("/docs/{asset}", this::asset);
        // Not ctx.redirect(), which adds a text/plain "Redirected" body.
        javalin.routes.get("/", ctx -> ctx.status(HttpStatus.FOUND).header("Location", "/docs"));
    }

    String swaggerUiVersion() {
        return swaggerUiVersion;
    }

    private void asset(Context ctx) {
        String name = ctx.pathParam("asset");
        byte[] bytes = HIDDEN_ASSETS.contains(name) || name.startsWith(".") || name.contains("/")
                || name.contains("\\") ? null : assets.computeIfAbsent(name, this::load).orElse(null);
        if (bytes == null) {
            throw new HttpApi.ProblemException(ProblemType.NOT_FOUND.problem(
                    "Swagger UI has no file '" + name + "'", HttpApi.requestId(ctx), null));
        }
        String etag = "\"swagger-ui-" + swaggerUiVersion + "\"";
        ctx.header("ETag", etag);
        ctx.header("Cache-Control", "no-cache");
        String ifNoneMatch = ctx.header("If-None-Match");
        if (ifNoneMatch != null && (ifNoneMatch.trim().equals("*") || ifNoneMatch.contains(etag))) {
            ctx.status(HttpStatus.NOT_MODIFIED);
            return;
        }
        ctx.contentType(mediaType(name)).result(bytes);
    }

    private Optional<byte[]> load(String name) {
        try (InputStream in = DocsRoutes.class.getClassLoader().getResourceAsStream(assetRoot + name)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + assetRoot + name, e);
        }
    }

    private static String mediaType(String name) {
        String extension = name.substring(name.lastIndexOf('.') + 1);
        String type = MEDIA_TYPES.getOrDefault(extension, "application/octet-stream");
        return type.startsWith("text/") ? type + "; charset=utf-8" : type;
    }

    private static String webjarVersion() {
        try (InputStream in = DocsRoutes.class.getClassLoader().getResourceAsStream(WEBJAR_POM)) {
            if (in == null) {
                throw new IllegalStateException(WEBJAR_POM + " is missing: is org.webjars:swagger-ui on the class path?");
            }
            Properties properties = new Properties();
            properties.load(in);
            String version = properties.getProperty("version");
            if (version == null || version.isBlank()) {
                throw new IllegalStateException(WEBJAR_POM + " names no version");
            }
            return version.trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + WEBJAR_POM, e);
        }
    }

    /** Swagger UI with our document preloaded, no online validator, "Try it out" against this server. */
    private static String page() {
        return """
                <!doctype html>
                <html lang="en">
                <head>
                  <meta charset="utf-8">
                  <meta name="viewport" content="width=device-width, initial-scale=1">
                  <title>MDP Gateway API</title>
                  <link rel="stylesheet" href="/docs/swagger-ui.css">
                  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
                  <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
                </head>
                <body>
                  <div id="swagger-ui"></div>
                  <script src="/docs/swagger-ui-bundle.js"></script>
                  <script src="/docs/swagger-ui-standalone-preset.js"></script>
                  <script>
                    window.ui = SwaggerUIBundle({
                      url: '/openapi.yaml',
                      dom_id: '#swagger-ui',
                      validatorUrl: null,
                      deepLinking: true,
                      tryItOutEnabled: false,
                      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
                      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
                      layout: 'StandaloneLayout'
                    });
                  </script>
                </body>
                </html>
                """;
    }
}
