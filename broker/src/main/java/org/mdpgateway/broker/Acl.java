package org.mdpgateway.broker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.mdpgateway.mdp.MdpProtocol;
import org.mdpgateway.mdp.ServiceGlob;

/**
 * Which CURVE key may serve, and which may call, which services. One rule per line:
 * <pre>
 * worker &lt;service-glob&gt; &lt;z85-public-key | *&gt;
 * client &lt;service-glob&gt; &lt;z85-public-key | *&gt;
 * </pre>
 * where {@code *} as the key means any peer the broker let in; {@code #} starts a comment. A worker
 * may register for a service, and a client may call one, only when a rule of its kind covers both
 * the service and its key. The {@code mmi.} namespace (8/MMI) is open to every client that was let
 * in.
 *
 * <p>Immutable; read on the broker's loop thread.
 */
public final class Acl {
    private static final Pattern Z85_KEY = Pattern.compile("[0-9a-zA-Z.\\-:+=^!/*?&<>()\\[\\]{}@%$#]{40}");

    private record Rule(boolean worker, ServiceGlob services, String key) {
        boolean covers(String service, String peerKey) {
            return services.matches(service) && (key.equals("*") || key.equals(peerKey));
        }
    }

    private final List<Rule> rules;

    private Acl(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    /** Reads {@code file}; a line it cannot read is an error naming the file and the line. */
    public static Acl load(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    }

    static Acl parse(String text, String source) {
        List<Rule> rules = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            line = withoutComment(line);
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] words = line.split("\\s+");
            String where = source + " line " + (i + 1);
            if (words.length != 3 || !(words[0].equals("worker") || words[0].equals("client"))) {
                throw new IllegalArgumentException(where + ": expected 'worker|client <service-glob> <key|*>', got '"
                        + line + "'");
            }
            if (!words[2].equals("*") && !Z85_KEY.matcher(words[2]).matches()) {
                throw new IllegalArgumentException(where + ": '" + words[2] + "' is not a Z85 public key (40 characters)"
                        + " nor *");
            }
            rules.add(new Rule(words[0].equals("worker"), ServiceGlob.of(words[1]), words[2]));
        }
        return new Acl(rules);
    }

    /** A Z85 key may contain '#': a comment starts only at a '#' that begins a word. */
    private static String withoutComment(String line) {
        for (int i = line.indexOf('#'); i >= 0; i = line.indexOf('#', i + 1)) {
            if (i == 0 || Character.isWhitespace(line.charAt(i - 1))) {
                return line.substring(0, i);
            }
        }
        return line;
    }

    /** Whether the peer with {@code key} may register as a worker for {@code service}. */
    public boolean mayServe(String key, String service) {
        return covered(true, key, service);
    }

    /** Whether the peer with {@code key} may send requests to {@code service}. */
    public boolean mayCall(String key, String service) {
        return MdpProtocol.isMmiService(service) || covered(false, key, service);
    }

    public int size() {
        return rules.size();
    }

    private boolean covered(boolean worker, String key, String service) {
        for (Rule rule : rules) {
            if (rule.worker == worker && rule.covers(service, key)) {
                return true;
            }
        }
        return false;
    }
}
