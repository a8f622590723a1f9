#!/usr/bin/env bash
# Makes a small Java 17 base image without a registry or a Docker daemon, for machines that
# cannot pull gcr.io/distroless/java17-debian12 (the default base of the images):
#
#   deploy/images/local-base-image.sh target/images/jre-base.tar
#   ./mvnw package -Pimages -DskipTests -Dtlsgate.image.base=tar://$PWD/target/images/jre-base.tar
#
# The image holds a jlink runtime of this machine's JDK 17 (java.se and the jdk modules
# Quarkus, Netty and Kafka use) at /opt/java with /usr/bin/java, the C libraries it links
# against, /etc/passwd and /etc/group with the user nonroot (65532, as in distroless), an
# nsswitch.conf and a world-writable /tmp. No shell, no package manager. Written as a
# `docker save` archive, which Jib reads as a base (tar://) and `docker load` / `podman load`
# accept. Reproducible for one JDK build: every file's time is 1970-01-01.
set -euo pipefail

out=${1:?usage: $0 OUTPUT.tar}
java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
"$java_home/bin/java" -version 2>&1 | grep -q '"17' || { echo "$0: needs a JDK 17 (JAVA_HOME=$java_home)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/opt" "$root/usr/bin" "$root/etc" "$root/tmp" "$root/home/nonroot"

modules=java.se,jdk.unsupported,jdk.crypto.ec,jdk.crypto.cryptoki,jdk.naming.dns,jdk.jfr,jdk.management,jdk.management.jfr,jdk.zipfs,jdk.net,jdk.security.auth,jdk.localedata
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$root/opt/java"
ln -s /opt/java/bin/java "$root/usr/bin/java"

# The C libraries the runtime's programs and libraries load, at the paths the loader expects
# (not those of the desktop's graphics, fonts and sound: a headless server never loads them).
# glibc >= 2.34 has its files/dns name services inside libc itself.
find "$root/opt/java" -type f \( -name '*.so' -o -perm -u+x \) \
    -not -regex '.*/lib\(awt_xawt\|fontmanager\|jsound\|splashscreen\|lcms\|javajpeg\|jawt\)\.so' -print0 |
  xargs -0 ldd 2>/dev/null | awk '/=> \//{print $3} /^\s*\/.*ld-linux/{print $1}' | sort -u |
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
# Programs ask for the loader at /lib64 (a link to /lib/x86_64-linux-gnu on Debian).
loader=$(ldd "$root/opt/java/bin/java" | awk '/ld-linux/{print $1}')
if [ -n "$loader" ] && [ ! -e "$root$loader" ]; then
  mkdir -p "$root$(dirname "$loader")"
  cp -L "$loader" "$root$loader"
fi

printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"

# One layer, owned by root, times fixed.
tar --sort=name --mtime='1970-01-01' --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/layer.tar" .
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/image/$layer_sha"
mv "$work/layer.tar" "$work/image/$layer_sha/layer.tar"
cat > "$work/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","JAVA_HOME=/opt/java"],
           "User":"65532:65532","WorkingDir":"/home/nonroot"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer_sha"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"deploy/images/local-base-image.sh (jlink of $("$java_home/bin/java" -version 2>&1 | head -1 | tr -d '"'))"}]}
EOF
config_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/image/$config_sha.json"
printf '[{"Config":"%s.json","RepoTags":["tlsgate/jre-base:17-local"],"Layers":["%s/layer.tar"]}]\n' \
  "$config_sha" "$layer_sha" > "$work/image/manifest.json"
mkdir -p "$(dirname "$out")"
# Entries named without ./ (Jib refuses those).
tar --mtime='1970-01-01' --owner=0 --group=0 --numeric-owner -C "$work/image" -cf "$out" \
  manifest.json "$config_sha.json" "$layer_sha/layer.tar"
echo "$out: tlsgate/jre-base:17-local, $(du -h "$out" | cut -f1)"
