package org.mdpgateway.openapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;
import io.swagger.parser.OpenAPIParser;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.SpecVersion;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Lints the OpenAPI document in the build: it must parse as OpenAPI 3.1 without a single message,
 * every {@code $ref} must resolve, every example must be valid against its schema, and every
 * component must be used.
 */
class OpenApiDocumentLintTest {
    private static final String BASE = "https://mdp-gateway.invalid/openapi.json";
    private static final Pattern REF = Pattern.compile("\"\\$ref\"\\s*:\\s*\"#/components/(\\w+)/([^\"]+)\"");

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static String yaml;
    private static JsonNode document;
    private static SchemaRegistry registry;

    @BeforeAll
    static void load() throws Exception {
        yaml = new String(OpenApiDocument.yaml(), StandardCharsets.UTF_8);
        document = new YAMLMapper().readTree(yaml);
        String json = new ObjectMapper().writeValueAsString(document);
        registry = SchemaRegistry.withDefaultDialect(Dialects.getOpenApi31(), builder -> builder.schemas(Map.of(BASE, json)));
    }

    @Test
    void isPackagedUnderItsResourceName() {
        assertNotNull(OpenApiDocument.class.getClassLoader().getResource(OpenApiDocument.RESOURCE));
        assertTrue(yaml.startsWith("openapi: 3.1."), "an OpenAPI 3.1 document");
    }

    @Test
    void parsesAsOpenApi31WithoutAnyMessage() {
        ParseOptions options = new ParseOptions();
        options.setResolve(true);
        options.setValidateInternalRefs(true);
        options.setValidateExternalRefs(true);
        SwaggerParseResult result = new OpenAPIParser().readContents(yaml, null, options);
        assertEquals(List.of(), result.getMessages(), "parser errors and warnings");
        OpenAPI api = result.getOpenAPI();
        assertNotNull(api, "parsed");
        assertEquals(SpecVersion.V31, api.getSpecVersion());
        assertFalse(api.getPaths().isEmpty(), "has paths");
        api.getPaths().forEach((path, item) -> item.readOperationsMap().forEach((method, op) -> {
            assertNotNull(op.getOperationId(), method + " " + path + " has an operationId");
            assertFalse(op.getResponses().isEmpty(), method + " " + path + " has responses");
            assertFalse(op.getResponses().containsKey("default"),
                    method + " " + path + ": every status is listed, no 'default'");
            op.getResponses().forEach((status, response) -> {
                String ref = response.get$ref();
                boolean hasRequestId = ref != null
                        || (response.getHeaders() != null && response.getHeaders().containsKey("X-Request-Id"));
                assertTrue(hasRequestId, method + " " + path + " " + status + " declares X-Request-Id");
            });
        }));
    }

    @Test
    void everyComponentIsUsedAndEveryRefResolves() throws Exception {
        String json = new ObjectMapper().writeValueAsString(document);
        Set<String> used = new TreeSet<>();
        Matcher m = REF.matcher(json);
        while (m.find()) {
            String section = m.group(1);
            String name = m.group(2);
            assertTrue(document.path("components").path(section).has(name), "$ref to missing #/components/"
                    + section + "/" + name);
            used.add(section + "/" + name);
        }
        // Security schemes are referred to by name from the security requirements, not by $ref.
        List<JsonNode> requirements = new ArrayList<>();
        requirements.add(document.path("security"));
        document.path("paths").forEach(item -> item.forEach(op -> requirements.add(op.path("security"))));
        for (JsonNode requirement : requirements) {
            requirement.forEach(alternative -> alternative.fieldNames().forEachRemaining(name -> {
                assertTrue(document.path("components").path("securitySchemes").has(name),
                        "security requirement names a missing scheme " + name);
                used.add("securitySchemes/" + name);
            }));
        }
        Set<String> unused = new TreeSet<>();
        document.path("components").fields().forEachRemaining(section -> section.getValue().fieldNames()
                .forEachRemaining(name -> {
                    if (!used.contains(section.getKey() + "/" + name)) {
                        unused.add(section.getKey() + "/" + name);
                    }
                }));
        // NotFound and MethodNotAllowed describe what every unknown route or method answers.
        unused.remove("responses/MethodNotAllowed");
        assertEquals(Set.of(), unused, "components nothing refers to");
    }

    @Test
    void everyExampleIsValidAgainstItsSchema() {
        List<String> failures = new ArrayList<>();
        int[] checked = {0};
        walk(document, "", (pointer, node) -> {
            JsonNode schema = node.get("schema");
            if (pointer.contains("/content/") && schema != null && isJsonMediaType(lastSegment(pointer))) {
                if (node.has("example")) {
                    checked[0]++;
                    check(schema, node.get("example"), pointer + "/example", failures);
                }
                node.path("examples").fields().forEachRemaining(e -> {
                    checked[0]++;
                    check(schema, e.getValue().get("value"), pointer + "/examples/" + e.getKey(), failures);
                });
            }
            if (pointer.startsWith("/components/parameters/") || pointer.startsWith("/components/headers/")) {
                if (schema != null && node.has("example")) {
                    checked[0]++;
                    check(schema, node.get("example"), pointer + "/example", failures);
                }
            }
            if (pointer.matches("/components/schemas/[^/]+") && node.has("examples")) {
                for (JsonNode example : node.get("examples")) {
                    checked[0]++;
                    check(node, example, pointer + "/examples", failures);
                }
            }
        });
        assertTrue(checked[0] > 20, "examples checked: " + checked[0]);
        if (!failures.isEmpty()) {
            fail("examples that do not match their schema:\n" + String.join("\n", failures));
        }
    }

    @Test
    void schemaValidationCatchesABadExample() {
        // The check above must be able to fail: a frame with both forms is not a Frame.
        List<String> failures = new ArrayList<>();
        ObjectNode bad = new ObjectMapper().createObjectNode().put("text", "a").put("base64", "AA==");
        check(document.at("/components/schemas/Frame"), bad, "bad frame", failures);
        assertEquals(1, failures.size(), failures.toString());
        ObjectNode problem = new ObjectMapper().createObjectNode().put("type", "urn:x").put("status", 503);
        check(document.at("/components/schemas/Problem"), problem, "incomplete problem", failures);
        assertEquals(2, failures.size(), failures.toString());
    }

    private static void check(JsonNode schemaNode, JsonNode instance, String where, List<String> failures) {
        // References inside the schema are relative to the document: make them absolute, so they
        // resolve against the whole document the registry holds under BASE.
        JsonNode absolute;
        try {
            absolute = MAPPER.readTree(MAPPER.writeValueAsString(schemaNode)
                    .replace("\"$ref\":\"#/", "\"$ref\":\"" + BASE + "#/"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Schema schema = registry.getSchema(SchemaLocation.of("https://mdp-gateway.invalid/lint.json"), absolute);
        List<Error> errors = schema.validate(instance);
        if (!errors.isEmpty()) {
            failures.add(where + ": " + errors);
        }
    }

    private static boolean isJsonMediaType(String mediaType) {
        return mediaType.equals("application/json") || mediaType.endsWith("+json");
    }

    private static String lastSegment(String pointer) {
        return pointer.substring(pointer.lastIndexOf('/') + 1).replace("~1", "/").replace("~0", "~");
    }

    private interface Visitor {
        void visit(String pointer, JsonNode node);
    }

    private static void walk(JsonNode node, String pointer, Visitor visitor) {
        if (node.isObject()) {
            visitor.visit(pointer, node);
            Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                if (field.getKey().equals("example") || field.getKey().equals("examples")) {
                    continue;
                }
                walk(field.getValue(), pointer + "/" + field.getKey().replace("~", "~0").replace("/", "~1"), visitor);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                walk(node.get(i), pointer + "/" + i, visitor);
            }
        }
    }
}
