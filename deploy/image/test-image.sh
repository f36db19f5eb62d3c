#!/usr/bin/env bash
# Builds the gateway's OCI image with Jib (the pom's image profile) on a local base image, loads it
# into podman and runs it: the image's config (non-root user, ports, entry point, JVM flags,
# labels), /health/ready, POST /services/echo with --demo-workers, the heap sized from the
# container's memory limit, the process's user, and a SIGTERM drain that exits 0.
#
# No registry is reached: the base is a jlink runtime built here (build-base.sh), passed to Jib as
# -Dimage.base=tar://... Needs jlink/jdeps (the JDK), buildah, podman, runc, curl and python3.
# Everything it stores stays under gateway/target/image-test (its own containers storage).
#
#   deploy/image/test-image.sh            (MVN=mvn to use another Maven than ./mvnw)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
MVN="${MVN:-./mvnw}"
work="$root/gateway/target/image-test"
mkdir -p "$work"

# A storage of our own, so nothing touches the machine's images or containers.
cat >"$work/storage.conf" <<CONF
[storage]
driver = "${STORAGE_DRIVER:-overlay}"
runroot = "$work/run"
graphroot = "$work/storage"
CONF
export CONTAINERS_STORAGE_CONF="$work/storage.conf"

# crun (podman's default here) refuses a host whose cgroups are in hybrid mode (v1 controllers
# and a cgroup2 hierarchy holding one); runc runs there, and anywhere crun does.
runtime="${CONTAINER_RUNTIME:-$(command -v runc || command -v crun)}"
# podman raises the container's rlimits to its defaults, which a process without CAP_SYS_RESOURCE
# (as here) may not; ask for limits within ours.
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

fail() { echo "test-image: FAIL: $*" >&2; exit 1; }
start=$SECONDS

echo "== the gateway jar"
"$MVN" -B -q -DskipTests package -pl gateway -am
echo "== the local base image"
deploy/image/build-base.sh gateway/target/mdp-gateway.jar "$work/base.tar"
echo "== the image, with Jib"
"$MVN" -B -q -Pimage -DskipTests package -pl gateway -am "-Dimage.base=tar://$work/base.tar" \
  -Dimage.name=mdp-gateway:image-test
tar="gateway/target/mdp-gateway-image.tar"
test -s "$tar" || fail "Jib wrote no $tar"

podman load --quiet -i "$tar" >/dev/null
image=localhost/mdp-gateway:image-test
cfg() { podman image inspect "$image" --format "$1"; }
user="$(cfg '{{.Config.User}}')"
[[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "the image's user is '$user', not a numeric non-root uid"
ports="$(cfg '{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}')"
[[ " $ports" == *" 8080/tcp "* && " $ports" == *" 5555/tcp "* ]] || fail "ports declared: '$ports', want 8080/tcp and 5555/tcp"
entrypoint="$(cfg '{{join .Config.Entrypoint " "}}')"
[[ "$entrypoint" == java\ * && "$entrypoint" == *org.mdpgateway.gateway.GatewayMain* ]] || fail "entry point: $entrypoint"
[[ "$entrypoint" == *-XX:MaxRAMPercentage=75* ]] || fail "entry point has no -XX:MaxRAMPercentage=75: $entrypoint"
[[ "$(cfg '{{index .Config.Labels "org.opencontainers.image.title"}}')" == mdp-gateway ]] || fail "no title label"
[[ -n "$(cfg '{{index .Config.Labels "org.opencontainers.image.version"}}')" ]] || fail "no version label"
echo "image: user $user, ports $ports"
echo "entry point: $entrypoint"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
name="mdpgw-image-test-$$"
trap 'podman --runtime "$runtime" rm -f -t 0 "$name" >/dev/null 2>&1 || true' EXIT
echo "== running it (runtime $runtime), HTTP on 127.0.0.1:$port"
# As deploy/k8s runs it: a read-only root with a writable /tmp, no capabilities, no privilege
# escalation, the broker open to other pods.
podman --runtime "$runtime" run -d --name "$name" "${limits[@]}" --memory 512m \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -p "127.0.0.1:$port:8080" -e MDPGW_DRAIN_GRACE_MS=2000 -e MDPGW_ALLOW_INSECURE_REMOTE=true \
  -e 'MDPGW_BROKER_BIND=tcp://*:5555' "$image" --demo-workers >/dev/null
base="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 120); do
  ready="$(curl -s -o /dev/null -w '%{http_code}' "$base/health/ready" || true)"
  [ "$ready" = 200 ] && break
  [ "$(podman inspect "$name" --format '{{.State.Running}}')" = true ] || break
  sleep 0.5
done
[ "$ready" = 200 ] || { podman logs "$name" >&2 || true; fail "/health/ready answered '$ready', not 200"; }
echo "/health/ready: 200"
reply="$(curl -s -f -d "hello from $name" "$base/services/echo")" || fail "POST /services/echo failed"
[ "$reply" = "hello from $name" ] || fail "echo answered '$reply'"
echo "POST /services/echo: $reply"

pid="$(podman inspect "$name" --format '{{.State.Pid}}')"
uid="$(ps -o uid= -p "$pid" | tr -d ' ')"
[ "$uid" = "${user%%:*}" ] || fail "the gateway runs as uid $uid, not ${user%%:*}"
echo "process uid: $uid"

# 75% of the 512 MiB limit; the JVM's default (25%) would give 128 MiB.
heap="$(curl -s -f "$base/metrics" | awk 'index($0, "jvm_memory_max_bytes{") == 1 && index($0, "area=\"heap\"") { if ($NF + 0 > 0) sum += $NF } END { printf "%.0f", sum }')"
[ "$heap" -gt $((300 * 1024 * 1024)) ] && [ "$heap" -le $((512 * 1024 * 1024)) ] \
  || fail "heap max is $heap bytes under a 512 MiB limit; MaxRAMPercentage=75 gives about 384 MiB"
echo "heap max under --memory 512m: $((heap / 1024 / 1024)) MiB"

podman --runtime "$runtime" stop -t 30 "$name" >/dev/null
code="$(podman inspect "$name" --format '{{.State.ExitCode}}')"
[ "$code" = 0 ] || { podman logs "$name" >&2 || true; fail "after SIGTERM the gateway exited $code, not 0"; }
echo "SIGTERM: exited 0"
echo "test-image: OK in $((SECONDS - start)) s"
