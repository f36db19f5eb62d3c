package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's browser snippets are the files under {@code src/test/resources/web/} that
 * {@code BrowserIT} runs in Chromium, character for character, so the two cannot drift apart.
 */
class ReadmeSnippetsTest {
    static final List<String> SNIPPETS = List.of("sse.js", "ndjson.js");

    /** A snippet's text from the test class path. */
    static String snippet(String name) {
        try (InputStream in = ReadmeSnippetsTest.class.getClassLoader().getResourceAsStream("web/" + name)) {
            assertNotNull(in, "web/" + name + " is not on the test class path");
            return new String(in.readAllBytes(), UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The project's README: the build runs in the module's directory, the README is one above. */
    static String readme() throws IOException {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path readme = dir.resolve("README.md");
            if (Files.isRegularFile(readme) && Files.isDirectory(dir.resolve("gateway"))) {
                return Files.readString(readme, UTF_8);
            }
        }
        throw new IllegalStateException("no README.md above " + Path.of("").toAbsolutePath());
    }

    @Test
    void readmeShowsEachTestedSnippetExactly() throws IOException {
        String readme = readme();
        assertTrue(readme.contains("### For web developers"), "the README has no section for web developers");
        for (String name : SNIPPETS) {
            String code = snippet(name);
            assertTrue(code.endsWith("\n") && !code.contains("\r"), name + " must be LF-only text ending in a newline");
            assertTrue(readme.contains("```js\n" + code + "```\n"),
                    "README.md must show gateway/src/test/resources/web/" + name
                            + " exactly, as a ```js block; copy the file into the README (or fix the file)");
        }
    }
}
