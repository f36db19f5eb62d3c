#!/usr/bin/env bash
# Builds a small local base image for the gateway's Jib image, without any registry: a jlink runtime
# of the modules the shaded gateway jar needs, the shared libraries it links against (copied from
# this machine), a non-root user and /tmp. Writes it as a docker-archive tar that Jib takes as
# -Dimage.base=tar://<file>.
#
#   deploy/image/build-base.sh <gateway-jar> <output.tar>
#
# Needs a JDK with jmods (jlink, jdeps), ldd and buildah. Users build on eclipse-temurin:17-jre
# instead (the default of image.base); this base exists so the image can be built and run offline.
set -euo pipefail

jar="$1"
out="$2"
work="$(dirname "$out")/base-build"
rm -rf "$work"
mkdir -p "$work"
rootfs="$work/rootfs"
mkdir -p "$rootfs"

# The modules the jar uses, and those it needs without naming them in its bytecode: elliptic-curve
# TLS (jdk.crypto.ec) and the platform MXBeans the JVM metrics read (jdk.management).
modules="$(jdeps --ignore-missing-deps --multi-release 17 --print-module-deps "$jar")"
modules="$(printf "%s" "$modules,jdk.crypto.ec,jdk.management" | tr , "\n" | sort -u | paste -sd, -)"
echo "jlink modules: $modules"
jlink --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$rootfs/opt/java"

# The runtime's native code links against the C library and a few more; copy them and the loader.
libs="$(find "$rootfs/opt/java" \( -name '*.so' -o -path '*/bin/*' \) -type f -print0 \
  | xargs -0 ldd 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' | sort -u)"
for lib in $libs; do
  [ -e "$lib" ] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# Debian's /lib and /lib64 are symlinks into /usr; keep the same layout so the loader path holds.
for d in lib lib64; do
  if [ -L "/$d" ] && [ -d "$rootfs/$d" ] && [ ! -L "$rootfs/$d" ]; then
    mkdir -p "$rootfs/usr/$d"
    cp -a "$rootfs/$d/." "$rootfs/usr/$d/"
    rm -rf "${rootfs:?}/$d"
    ln -s "usr/$d" "$rootfs/$d"
  fi
done

mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/nonroot"
chmod 1777 "$rootfs/tmp"
chown 65532:65532 "$rootfs/home/nonroot"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"

"$rootfs/opt/java/bin/java" -version 2>&1 | head -1 >/dev/null || true

ctr="$(buildah from scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
buildah config --env JAVA_HOME=/opt/java --env PATH=/opt/java/bin:/usr/bin:/bin \
  --label org.opencontainers.image.description="jlink Java runtime for the MDP gateway's image test" "$ctr"
buildah commit --quiet "$ctr" mdp-gateway-test-base:latest >/dev/null
rm -f "$out"
buildah push --quiet mdp-gateway-test-base:latest "docker-archive:$out:mdp-gateway-test-base:latest"
echo "base image: $out ($(du -h "$out" | cut -f1))"
