#!/usr/bin/env bash
# See drainpipe recover client addresses without a cluster, in well under a minute:
#
#   curl (from 127.0.0.7) → HAProxy (PROXY v2, like an NLB) → drainpipe → examples/http-app.mjs
#
# The app's socket peer is drainpipe on 127.0.0.1, yet it sees the client, 127.0.0.7, in
# X-Forwarded-For: drainpipe read it from the PROXY v2 header HAProxy prepended.
#
#   examples/local-haproxy.sh            run, show, check, clean up
#   examples/local-haproxy.sh --keep     leave everything running until Ctrl-C
#
# Needs node, haproxy and curl. Linux routes all of 127.0.0.0/8 to loopback; on macOS add the
# client address first: sudo ifconfig lo0 alias 127.0.0.7. Ports: APP_PORT (3000), DRAINPIPE_PORT (8080), ADMIN_PORT (9901),
# HAPROXY_PORT (8000) from the environment. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

export APP_PORT=${APP_PORT:-3000} DRAINPIPE_PORT=${DRAINPIPE_PORT:-8080} ADMIN_PORT=${ADMIN_PORT:-9901} HAPROXY_PORT=${HAPROXY_PORT:-8000}
CLIENT_IP=127.0.0.7
keep=false
[ "${1:-}" = --keep ] && keep=true

for tool in node haproxy curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "local-haproxy: $tool is needed (e.g. apt-get install -y haproxy curl)" >&2; exit 2; }
done
[ -f dist/cli.js ] || npm run build --silent

pids=()
logdir=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # URL: until it answers 2xx, at most 10 s
  for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "local-haproxy: $1 did not answer; logs in $logdir:" >&2
  tail -n 5 "$logdir"/*.log >&2
  return 1
}

node examples/http-app.mjs --host 127.0.0.1 --port "$APP_PORT" --name local-app > "$logdir/app.log" 2>&1 &
pids+=($!)
# --proxy-protocol required: every connection from HAProxy (127.0.0.1, trusted) must carry a header.
# --quiet-period 1: on exit, drainpipe waits 1 s without new connections before draining (in a pod
# leave it auto: derived from the traffic rate, up to 60 s).
node dist/cli.js --listen "127.0.0.1:$DRAINPIPE_PORT" --upstream "127.0.0.1:$APP_PORT" --admin "127.0.0.1:$ADMIN_PORT" \
  --proxy-protocol required --trusted-proxies 127.0.0.1/32 --quiet-period 1 > "$logdir/drainpipe.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz"
haproxy -db -f examples/haproxy/nlb-like.cfg > "$logdir/haproxy.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$HAPROXY_PORT/"

echo "app :$APP_PORT  ←  drainpipe :$DRAINPIPE_PORT (admin :$ADMIN_PORT)  ←  HAProxy :$HAPROXY_PORT, send-proxy-v2  ←  curl from $CLIENT_IP"
echo
echo "\$ curl --interface $CLIENT_IP http://127.0.0.1:$HAPROXY_PORT/"
seen=$(curl -fsS --interface "$CLIENT_IP" "http://127.0.0.1:$HAPROXY_PORT/")
echo "$seen"
echo
SEEN=$seen CLIENT_IP=$CLIENT_IP node -e '
  const seen = JSON.parse(process.env.SEEN)
  console.log(`socket peer the app saw:     ${seen.socket} (drainpipe)`)
  console.log(`X-Forwarded-For it received: ${seen.xForwardedFor}`)
  console.log(`Forwarded it received:       ${seen.forwarded}`)
  if (seen.xForwardedFor !== process.env.CLIENT_IP) { console.log(`expected ${process.env.CLIENT_IP}: client address NOT recovered`); process.exit(1) }
  console.log(`client address recovered from the PROXY v2 header`)'

echo
echo "drainpipe's view (http://127.0.0.1:$ADMIN_PORT/metrics):"
curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E '^drainpipe_(connections_accepted|health_checks)_total' || true

if $keep; then
  echo
  echo "Running; try: curl --interface $CLIENT_IP http://127.0.0.1:$HAPROXY_PORT/   (Ctrl-C to stop)"
  wait
fi
