#!/usr/bin/env bash
# Assemble a stand-in for the official node image from this machine's own files, for places where
# image registries are unreachable: node, npm, /bin/sh and /usr/bin/env, and exactly the shared
# libraries `ldd` lists for them, laid out as in node:*-slim (node in /usr/local/bin, npm in
# /usr/local/lib/node_modules). Imported with `podman import`, so no registry is involved.
#
#   scripts/container/node-base.sh [IMAGE]      prints the image name
# An existing image of that name is reused (its tag carries the node version); REBUILD=1 remakes it.
set -euo pipefail

image=${1:-localhost/drainpipe-node-base:host-$(node --version)}
if [ "${REBUILD:-}" != 1 ] && podman image exists "$image"; then
  echo "$image"
  exit 0
fi
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/usr/local/bin "$root"/usr/local/lib/node_modules "$root"/bin "$root"/usr/bin "$root"/etc "$root"/tmp "$root"/root
chmod 1777 "$root"/tmp
cp "$node_bin" "$root"/usr/local/bin/node
cp -a "$npm_dir" "$root"/usr/local/lib/node_modules/npm
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root"/usr/local/bin/npm
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root"/usr/local/bin/npx
cp "$(readlink -f /bin/sh)" "$root"/bin/sh
cp "$(readlink -f /usr/bin/env)" "$root"/usr/bin/env

# Every library the three binaries load, at the path the dynamic loader resolved it to.
for bin in "$node_bin" "$(readlink -f /bin/sh)" "$(readlink -f /usr/bin/env)"; do
  ldd "$bin" | grep -oE '/[^ ]+' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done

# This machine's trust store: where registries are reached through a TLS-intercepting proxy, its CA
# is only in here, and npm in the build stages needs it (node adds NODE_EXTRA_CA_CERTS to its roots).
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$root"/etc/ssl/certs
[ -r "$ca" ] && cp -L "$ca" "$root"/etc/ssl/certs/ca-certificates.crt

# The official images have root and node (1000); npm and os.userInfo() look users up.
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' > "$root"/etc/passwd
printf 'root:x:0:\nnode:x:1000:\n' > "$root"/etc/group
mkdir -p "$root"/home/node && chown 1000:1000 "$root"/home/node

tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  --quiet - "$image" >/dev/null
echo "$image"
