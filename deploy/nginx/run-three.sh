#!/usr/bin/env bash
# Three gateways, each with its own embedded broker, behind nginx, all on loopback and on free ports.
# Prints the URLs; Ctrl-C stops everything (the gateways with SIGTERM, so they drain).
#
#   deploy/nginx/run-three.sh                 # with the demo services echo and count
#   deploy/nginx/run-three.sh --drain-grace-ms 3000   # extra flags go to every gateway
#
# Build the jar first: mvn -B -DskipTests package (or set MDPGW_JAR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jar=${MDPGW_JAR:-$root/gateway/target/mdp-gateway.jar}
[ -f "$jar" ] || { echo "no $jar: build it with: mvn -B -DskipTests package" >&2; exit 1; }

nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || { [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx; } || true
if [ -z "$nginx_bin" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing nginx (Debian package; its system service is not used)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    nginx_bin=/usr/sbin/nginx
  else
    echo "nginx is missing: sudo apt-get install -y nginx" >&2; exit 1
  fi
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
  local p
  while :; do p=$((20000 + RANDOM % 40000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done
}

work=$(mktemp -d "${TMPDIR:-/tmp}/mdp-nginx.XXXXXX")
pids=()
nginx_pid=
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping"
  [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true    # nginx: graceful stop
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done # gateways: drain, exit 0
  wait || true
  echo "logs kept in $work"
}
trap cleanup INT TERM EXIT

[ $# -gt 0 ] || set -- --demo-workers
servers=""
for i in 1 2 3; do
  http=$(free_port); broker=$(free_port)
  java -jar "$jar" --http-host 127.0.0.1 --http-port "$http" --broker-bind "tcp://127.0.0.1:$broker" "$@" \
    >"$work/gateway-$i.log" 2>&1 &
  pids+=($!)
  servers+="        server 127.0.0.1:$http max_fails=1 fail_timeout=5s;"$'\n'
  eval "http_$i=$http broker_$i=$broker"
done
for i in 1 2 3; do
  until grep -q "gateway listening on" "$work/gateway-$i.log"; do
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { cat "$work/gateway-$i.log"; exit 1; }
    sleep 0.2
  done
done

lb_port=$(free_port)
servers=${servers%$'\n'}
while IFS= read -r line; do
  case $line in
    @@SERVERS@@) printf '%s\n' "$servers" ;;
    *) line=${line//@@PREFIX@@/$work}; line=${line//@@LISTEN@@/127.0.0.1:$lb_port}; printf '%s\n' "${line//@@GENERATION@@/1}" ;;
  esac
done <"$here/nginx.conf.template" >"$work/nginx.conf"
"$nginx_bin" -t -q -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$lb_port") 2>/dev/null; do sleep 0.1; done

echo "nginx:     http://127.0.0.1:$lb_port   (try: curl -d hello http://127.0.0.1:$lb_port/services/echo)"
for i in 1 2 3; do
  eval "echo \"gateway $i: http://127.0.0.1:\$http_$i   health: http://127.0.0.1:\$http_$i/health/ready   broker: tcp://127.0.0.1:\$broker_$i   pid ${pids[$((i - 1))]}\""
done
echo "config and logs: $work   (reload: $nginx_bin -p $work -c $work/nginx.conf -e $work/error.log -s reload)"
echo "Ctrl-C stops everything"
wait
