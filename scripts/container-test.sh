#!/usr/bin/env bash
# npm run test:container: build the Dockerfile with podman, run the image with the example app
# beside it, send traffic, `podman stop` it, and check that it drained and exited 0.
#
# Image registries are unreachable here, so the base image is assembled (scripts/container/node-base.sh)
# from the release binary of the Node line the Dockerfile's NODE_IMAGE names (node:26-… → Node 26,
# brought by scripts/with-node.sh) and passed as NODE_IMAGE; the Dockerfile is the one users build
# against the official image. Set NODE_IMAGE to use a real node image instead.
# The build stages run `npm ci`, so the npm registry must be reachable.
#
# Needs root (rootful podman) or podman already installed. Debian's podman runs containers with
# runc here (crun fails in this sandbox), and with explicit ulimits: the defaults ask for more than
# the sandbox's hard limits.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
say() { printf '[container-test %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "container-test: podman and runc are needed (apt-get install -y podman runc, as root)" >&2
    exit 2
  fi
  say "installing podman and runc"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq podman runc >/dev/null
fi

nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
limits=(--runtime runc --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

tag=localhost/drainpipe:container-test
app=drainpipe-ct-app-$$
dp=drainpipe-ct-drainpipe-$$
dps=()
cleanup() {
  podman rm -f -t 0 "$app" "${dps[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ -z "${NODE_IMAGE:-}" ]; then
  line=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\)-.*/\1/p' Dockerfile)
  [ -n "$line" ] || { echo "container-test: no 'ARG NODE_IMAGE=node:<major>-…' line in the Dockerfile" >&2; exit 1; }
  say "node base image from Node $line's release binary, $(bash scripts/with-node.sh "$line" node --version) (assembled once, then reused)"
  NODE_IMAGE=$(bash scripts/with-node.sh "$line" bash scripts/container/node-base.sh)
fi
say "base: $NODE_IMAGE"

say "podman build (Dockerfile, NODE_IMAGE=$NODE_IMAGE)"
build_start=$(date +%s)
podman build "${limits[@]}" --network host --build-arg "NODE_IMAGE=$NODE_IMAGE" -t "$tag" . > /tmp/drainpipe-container-build.log 2>&1 || {
  tail -30 /tmp/drainpipe-container-build.log
  echo "container-test: podman build failed (full log: /tmp/drainpipe-container-build.log)" >&2
  exit 1
}
size=$(podman image inspect --format '{{.Size}}' "$tag")
base_size=$(podman image inspect --format '{{.Size}}' "$NODE_IMAGE")
say "built $tag in $(( $(date +%s) - build_start )) s: $(( size / 1000000 )) MB, of which the base image $(( base_size / 1000000 )) MB (drainpipe and its production dependencies: $(( (size - base_size) / 1000000 )) MB)"

want=$(node -p 'require("./package.json").version')
got=$(podman run --rm "${limits[@]}" "$tag" --version)
[ "$got" = "$want" ] || { echo "container-test: the image says version '$got', package.json $want" >&2; exit 1; }
say "the image runs: drainpipe --version = $got"

# Three free loopback ports: app, pod port, admin.
read -r app_port listen_port admin_port < <(node -e '
  const net = require("node:net")
  const one = () => new Promise((r) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)) }) })
  Promise.all([one(), one(), one()]).then((p) => console.log(p.join(" ")))')

say "starting the example app (in the base image) on 127.0.0.1:$app_port and drainpipe on :$listen_port, admin :$admin_port (host network)"
podman run -d "${limits[@]}" --name "$app" --network host -v "$PWD/examples:/examples:ro" "$NODE_IMAGE" \
  node /examples/http-app.mjs --host 127.0.0.1 --port "$app_port" --name container-app >/dev/null
# Two runs of the image against the same app: stopped by SIGTERM (podman stop), and drained by
# the preStop call the manifests in k8s/ make (then SIGTERM).
token=container-test-$RANDOM$RANDOM$RANDOM
for trigger in sigterm prestop; do
  name=$dp-$trigger
  dps+=("$name")
  say "drainpipe image, termination by $trigger"
  podman run -d "${limits[@]}" --name "$name" --network host \
    -e DRAINPIPE_ADMIN_TOKEN="$token" \
    "$tag" \
    --listen "127.0.0.1:$listen_port" --upstream "127.0.0.1:$app_port" --admin "127.0.0.1:$admin_port" \
    --quiet-period 2 --max-wait 30 --drain-timeout 10 --grace-period 60 >/dev/null
  node scripts/container/drain-check.mjs --container "$name" --listen "$listen_port" --admin "$admin_port" \
    --stop-timeout 60 --trigger "$trigger" --token "$token" || {
    echo "--- drainpipe logs"; podman logs "$name" 2>&1 | tail -30
    echo "--- app logs"; podman logs "$app" 2>&1 | tail -10
    echo "container-test: FAILED after $(( $(date +%s) - started )) s" >&2
    exit 1
  }
  podman rm "$name" >/dev/null
done
say "passed in $(( $(date +%s) - started )) s"
