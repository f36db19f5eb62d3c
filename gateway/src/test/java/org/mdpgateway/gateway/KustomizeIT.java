package org.mdpgateway.gateway;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * deploy/k8s as {@code kubectl kustomize} renders it: the gateway Deployment's probes, security,
 * resources, ports and termination grace against its drain, the HTTP Service, the headless broker
 * Service, the PodDisruptionBudget and the NetworkPolicy, each selecting the pods it means to.
 *
 * <p>Without kubectl this is skipped, except on CI ({@code CI=true}), where it fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KustomizeIT {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final List<JsonNode> objects = new ArrayList<>();
    private Path root;
    private String missingKubectl;

    @BeforeAll
    void render() throws Exception {
        root = repositoryRoot();
        Path kubectl = onPath("kubectl");
        if (kubectl == null) {
            String message = "no kubectl on the PATH; install it with: apt-get install -y kubernetes-client";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail(message + " (CI=true: the manifest check may not be skipped)");
            }
            missingKubectl = message + "; skipping the manifest check (CI=true makes this a failure)";
            return;
        }
        Path out = Files.createTempFile("kustomize", ".yaml");
        Path err = Files.createTempFile("kustomize", ".err");
        try {
            Process p = new ProcessBuilder(kubectl.toString(), "kustomize", root.resolve("deploy/k8s").toString())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize did not finish in 60 s");
            assertEquals(0, p.exitValue(), "kubectl kustomize deploy/k8s failed: " + Files.readString(err, UTF_8));
            try (var values = YAML.readerFor(JsonNode.class).readValues(out.toFile())) {
                while (values.hasNext()) {
                    JsonNode o = (JsonNode) values.next();
                    if (o != null && !o.isNull() && !o.isMissingNode()) {
                        objects.add(o);
                    }
                }
            }
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @BeforeEach
    void kubectlPresent() {
        Assumptions.assumeTrue(missingKubectl == null, missingKubectl);
    }

    /** The kinds deploy/k8s holds, as the Kubernetes API's own types (fabric8's model of it). */
    private static final Map<String, Class<?>> TYPES = Map.of(
            "apps/v1/Deployment", io.fabric8.kubernetes.api.model.apps.Deployment.class,
            "v1/Service", io.fabric8.kubernetes.api.model.Service.class,
            "policy/v1/PodDisruptionBudget", io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class,
            "networking.k8s.io/v1/NetworkPolicy", io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy.class);

    /**
     * The schema check: every object is of a known kind, reads as its API type (a wrong type of value
     * fails), and has no field the API does not know (a misspelled one would be ignored by a cluster
     * that does not validate strictly).
     */
    @Test
    void everyObjectIsAKnownKindWithOnlyFieldsItsApiTypeHas() throws Exception {
        assertFalse(objects.isEmpty(), "kustomize rendered no object");
        for (JsonNode o : objects) {
            String type = o.path("apiVersion").asText() + "/" + o.path("kind").asText();
            Class<?> api = TYPES.get(type);
            assertNotNull(api, "deploy/k8s has a " + type + ", which this check does not know; add its type");
            String where = type + " " + o.path("metadata").path("name").asText();
            List<String> unknown = new ArrayList<>();
            unknownFields(YAML.treeToValue(o, api), where, unknown);
            assertTrue(unknown.isEmpty(), "fields the Kubernetes API does not have: " + unknown);
        }
    }

    @Test
    void theSchemaCheckCatchesAMisspelledField() throws Exception {
        JsonNode bad = YAML.readTree("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
                + "spec: {ports: [{port: 80, targetPrt: 8080}]}\n");
        List<String> unknown = new ArrayList<>();
        unknownFields(YAML.treeToValue(bad, TYPES.get("v1/Service")), "Service x", unknown);
        assertEquals(List.of("Service x.spec.ports[0]: [targetPrt]"), unknown);
    }

    /** Walks a fabric8 model object; each one keeps what its type has no field for in additionalProperties. */
    private static void unknownFields(Object value, String path, List<String> unknown) throws IllegalAccessException {
        if (value instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                unknownFields(list.get(i), path + "[" + i + "]", unknown);
            }
            return;
        }
        if (value == null || !value.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        for (Class<?> c = value.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (java.lang.reflect.Field f : c.getDeclaredFields()) {
                if (java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                f.setAccessible(true);
                Object v = f.get(value);
                if (f.getName().equals("additionalProperties")) {
                    if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
                        unknown.add(path + ": " + extra.keySet());
                    }
                } else if (v instanceof Map<?, ?> map) {
                    for (Map.Entry<?, ?> e : map.entrySet()) {
                        unknownFields(e.getValue(), path + "." + f.getName() + "[" + e.getKey() + "]", unknown);
                    }
                } else {
                    unknownFields(v, path + "." + f.getName(), unknown);
                }
            }
        }
    }

    @Test
    void gatewayDeploymentProbesTheHealthEndpointsOnItsHttpPort() {
        JsonNode pod = gateway().path("spec").path("template").path("spec");
        JsonNode c = gatewayContainer();
        Map<String, Integer> ports = containerPorts(c);
        assertEquals(Integer.valueOf(8080), ports.get("http"), "container port http is 8080");
        assertEquals(Integer.valueOf(5555), ports.get("broker"), "container port broker is 5555");
        assertEquals("/health/ready", c.path("readinessProbe").path("httpGet").path("path").asText(), "readiness probe");
        assertEquals("/health/live", c.path("livenessProbe").path("httpGet").path("path").asText(), "liveness probe");
        for (String probe : List.of("readinessProbe", "livenessProbe")) {
            assertEquals(8080, port(c.path(probe).path("httpGet").path("port"), ports), probe + " port");
        }
        assertEquals("tcp://*:5555", env(c, "MDPGW_BROKER_BIND"), "the broker binds the declared broker port");
        assertEquals("8080", env(c, "MDPGW_HTTP_PORT"), "HTTP on the declared http port");
        assertEquals(1, pod.path("containers").size(), "one container per gateway pod");
    }

    @Test
    void terminationGraceOutlastsTheDrain() {
        JsonNode pod = gateway().path("spec").path("template").path("spec");
        JsonNode c = gatewayContainer();
        String drain = env(c, "MDPGW_DRAIN_GRACE_MS");
        assertNotNull(drain, "the gateway sets MDPGW_DRAIN_GRACE_MS, so the grace below can be checked against it");
        long drainMs = Long.parseLong(drain);
        String delay = env(c, "MDPGW_DRAIN_DELAY_MS");
        assertNotNull(delay, "the gateway sets MDPGW_DRAIN_DELAY_MS, so endpoints drop it before it stops accepting");
        long delayMs = Long.parseLong(delay);
        assertTrue(delayMs >= 1000, "a drain delay of a few seconds, for endpoint removal to propagate: " + delayMs);
        long preStopMs = c.path("lifecycle").path("preStop").path("sleep").path("seconds").asLong(0) * 1000;
        JsonNode grace = pod.path("terminationGracePeriodSeconds");
        assertTrue(grace.isIntegralNumber(), "terminationGracePeriodSeconds is set");
        assertTrue(grace.asLong() * 1000 > preStopMs + delayMs + drainMs,
                "terminationGracePeriodSeconds (" + grace.asLong() + " s) must be longer than the preStop pause ("
                        + preStopMs + " ms) plus the drain delay (" + delayMs + " ms) plus the drain grace (" + drainMs
                        + " ms)");
    }

    @Test
    void gatewayRunsAsTheImagesNonRootUserWithAReadOnlyRoot() throws IOException {
        JsonNode pod = gateway().path("spec").path("template").path("spec");
        JsonNode c = gatewayContainer();
        JsonNode podSec = pod.path("securityContext");
        JsonNode sec = c.path("securityContext");
        assertTrue(podSec.path("runAsNonRoot").asBoolean() || sec.path("runAsNonRoot").asBoolean(), "runAsNonRoot");
        assertTrue(sec.has("allowPrivilegeEscalation") && !sec.path("allowPrivilegeEscalation").asBoolean(true),
                "allowPrivilegeEscalation: false");
        assertTrue(sec.path("readOnlyRootFilesystem").asBoolean(), "readOnlyRootFilesystem: true");
        assertTrue(contains(sec.path("capabilities").path("drop"), "ALL"), "capabilities drop ALL");
        long uid = sec.has("runAsUser") ? sec.path("runAsUser").asLong() : podSec.path("runAsUser").asLong(0);
        assertEquals(imageUid(), uid, "runAsUser is the image's user (the jib <user> in gateway/pom.xml)");

        Set<String> mounts = new HashSet<>();
        c.path("volumeMounts").forEach(m -> mounts.add(m.path("mountPath").asText()));
        assertTrue(mounts.contains("/tmp"), "a writable /tmp under the read-only root");
    }

    @Test
    void gatewayHasResourceRequestsAndLimits() {
        JsonNode res = gatewayContainer().path("resources");
        for (String kind : List.of("requests", "limits")) {
            assertFalse(res.path(kind).path("memory").asText().isEmpty(), "resources." + kind + ".memory");
        }
        assertFalse(res.path("requests").path("cpu").asText().isEmpty(), "resources.requests.cpu");
        assertEquals(res.path("requests").path("memory").asText(), res.path("limits").path("memory").asText(),
                "the memory request is the limit: the heap is a share of the limit, and the pod should get it all");
    }

    @Test
    void servicesSelectTheGatewaysAndTheBrokerServiceIsHeadless() {
        JsonNode labels = gateway().path("spec").path("template").path("metadata").path("labels");
        Map<String, Integer> ports = containerPorts(gatewayContainer());

        JsonNode http = object("Service", "mdp-gateway");
        assertSelects(http.path("spec").path("selector"), labels, "Service mdp-gateway");
        assertEquals(8080, port(http.path("spec").path("ports").path(0).path("targetPort"), ports),
                "Service mdp-gateway targets the HTTP port");

        JsonNode broker = object("Service", "mdp-broker");
        assertEquals("None", broker.path("spec").path("clusterIP").asText(), "mdp-broker is headless (clusterIP: None)");
        assertSelects(broker.path("spec").path("selector"), labels, "Service mdp-broker");
        JsonNode bp = broker.path("spec").path("ports").path(0);
        assertEquals(5555, bp.path("port").asInt(), "mdp-broker's port");
        assertEquals(5555, port(bp.path("targetPort"), ports), "mdp-broker targets the broker port");
    }

    @Test
    void disruptionBudgetCoversTheGateways() {
        JsonNode deployment = gateway();
        JsonNode pdb = single("PodDisruptionBudget");
        JsonNode selector = pdb.path("spec").path("selector").path("matchLabels");
        assertSelects(selector, deployment.path("spec").path("template").path("metadata").path("labels"), "the PDB");
        assertEquals(deployment.path("spec").path("selector").path("matchLabels"), selector,
                "the PDB selects exactly the Deployment's pods");
        assertTrue(pdb.path("spec").has("maxUnavailable") || pdb.path("spec").has("minAvailable"), "the PDB's budget");
        assertTrue(deployment.path("spec").path("replicas").asInt(1) > 1, "more than one gateway, or a PDB means nothing");
    }

    /** An open broker port (no CURVE) is closed by a NetworkPolicy to all but the worker pods. */
    @Test
    void brokerPortIsEitherCurveOrOnlyForWorkers() {
        JsonNode c = gatewayContainer();
        boolean curve = env(c, "MDPGW_CURVE_SECRET_KEY_FILE") != null;
        boolean open = "true".equals(env(c, "MDPGW_ALLOW_INSECURE_REMOTE"));
        assertTrue(curve != open, "the broker port needs either CURVE or MDPGW_ALLOW_INSECURE_REMOTE=true, not both");
        if (curve) {
            assertNotNull(env(c, "MDPGW_CURVE_ALLOWED_DIR"), "CURVE with an allowed-keys directory");
            return;
        }
        JsonNode labels = gateway().path("spec").path("template").path("metadata").path("labels");
        JsonNode policy = single("NetworkPolicy");
        assertSelects(policy.path("spec").path("podSelector").path("matchLabels"), labels, "the NetworkPolicy");
        assertTrue(contains(policy.path("spec").path("policyTypes"), "Ingress"), "the policy restricts ingress");
        JsonNode workerLabels = object("Deployment", "mdp-worker-sample").path("spec").path("template")
                .path("metadata").path("labels");
        boolean brokerRule = false;
        for (JsonNode rule : policy.path("spec").path("ingress")) {
            boolean brokerPort = false;
            for (JsonNode p : rule.path("ports")) {
                brokerPort |= p.path("port").asInt() == 5555 || "broker".equals(p.path("port").asText());
            }
            if (!brokerPort) {
                continue;
            }
            brokerRule = true;
            assertTrue(rule.path("from").size() > 0, "a rule admitting port 5555 names who may connect");
            for (JsonNode from : rule.path("from")) {
                assertTrue(from.has("podSelector") && !from.has("ipBlock") && !from.has("namespaceSelector"),
                        "port 5555 is admitted only from pods of this namespace: " + from);
                assertSelects(from.path("podSelector").path("matchLabels"), workerLabels, "the broker rule");
            }
        }
        assertTrue(brokerRule, "the NetworkPolicy has a rule for the broker port");
    }

    private JsonNode gateway() {
        return object("Deployment", "mdp-gateway");
    }

    private JsonNode gatewayContainer() {
        JsonNode containers = gateway().path("spec").path("template").path("spec").path("containers");
        for (JsonNode c : containers) {
            if (c.path("image").asText().contains("mdp-gateway")) {
                return c;
            }
        }
        return fail("no container with the mdp-gateway image in Deployment mdp-gateway");
    }

    private JsonNode object(String kind, String name) {
        for (JsonNode o : objects) {
            if (kind.equals(o.path("kind").asText()) && name.equals(o.path("metadata").path("name").asText())) {
                return o;
            }
        }
        return fail("kubectl kustomize deploy/k8s renders no " + kind + " " + name);
    }

    private JsonNode single(String kind) {
        List<JsonNode> found = objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
        assertEquals(1, found.size(), "one " + kind);
        return found.get(0);
    }

    private static void assertSelects(JsonNode selector, JsonNode labels, String what) {
        assertTrue(selector.isObject() && selector.size() > 0, what + " has a selector");
        for (Iterator<Map.Entry<String, JsonNode>> it = selector.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            assertEquals(e.getValue().asText(), labels.path(e.getKey()).asText(null),
                    what + "'s selector " + e.getKey() + " must match the pods' labels " + labels);
        }
    }

    private static Map<String, Integer> containerPorts(JsonNode container) {
        Map<String, Integer> ports = new java.util.HashMap<>();
        container.path("ports").forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
        return ports;
    }

    /** A port given by number or by a container port's name. */
    private static int port(JsonNode port, Map<String, Integer> ports) {
        if (port.isInt()) {
            assertTrue(ports.containsValue(port.asInt()), "port " + port + " is a container port");
            return port.asInt();
        }
        Integer n = ports.get(port.asText());
        assertNotNull(n, "port '" + port.asText() + "' names no container port " + ports);
        return n;
    }

    private static String env(JsonNode container, String name) {
        for (JsonNode e : container.path("env")) {
            if (name.equals(e.path("name").asText())) {
                return e.path("value").asText();
            }
        }
        return null;
    }

    private static boolean contains(JsonNode array, String value) {
        for (JsonNode v : array) {
            if (value.equals(v.asText())) {
                return true;
            }
        }
        return false;
    }

    private long imageUid() throws IOException {
        String pom = Files.readString(root.resolve("gateway/pom.xml"), UTF_8);
        Matcher m = Pattern.compile("<user>(\\d+)(:\\d+)?</user>").matcher(pom);
        assertTrue(m.find(), "gateway/pom.xml sets the image's <user> as a number");
        long uid = Long.parseLong(m.group(1));
        assertTrue(uid > 0, "the image's user is not root");
        return uid;
    }

    private static Path onPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("deploy/k8s")) && Files.isDirectory(dir.resolve("gateway"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no deploy/k8s above " + Path.of("").toAbsolutePath());
    }
}
