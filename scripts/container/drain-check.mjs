#!/usr/bin/env node
// The container test's traffic and checks, run on the host against a drainpipe container and an
// app container on the host network:
//   1. drainpipe becomes ready; a request with a PROXY v2 header reaches the app with the client
//      address recovered; drainpipe is PID 1 in its container, as a non-root user.
//   2. Under a stream of new connections, termination starts while a slow request is in flight.
//      New connections keep arriving for a second (a load balancer still sending after
//      deregistration), then stop. Every request must succeed, the slow one included.
//      --trigger sigterm: `podman stop`; the container must exit 0 by itself, well before
//        podman's kill timeout.
//      --trigger prestop: what the kubelet does with the manifests in k8s/: GET /prestop with the
//        admin token (refused without it), which answers only once drained; the container must
//        then stay up with the pod port closed, and exit 0 at once on `podman stop`.
//
//   node scripts/container/drain-check.mjs --container NAME --listen PORT --admin PORT [--trigger prestop --token T]
import http from 'node:http'
import net from 'node:net'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'

const { values } = parseArgs({
  options: {
    container: { type: 'string' },
    listen: { type: 'string' },
    admin: { type: 'string' },
    'stop-timeout': { type: 'string', default: '60' },
    'lag-ms': { type: 'string', default: '1000' },
    'slow-ms': { type: 'string', default: '5000' },
    trigger: { type: 'string', default: 'sigterm' },
    token: { type: 'string' },
  },
})
const name = values.container
const listen = Number(values.listen)
const admin = Number(values.admin)
const stopTimeout = Number(values['stop-timeout'])
const lagMs = Number(values['lag-ms'])
const slowMs = Number(values['slow-ms'])
const trigger = values.trigger
if (trigger !== 'sigterm' && trigger !== 'prestop') throw new Error('--trigger sigterm|prestop')
if (trigger === 'prestop' && !values.token) throw new Error('--trigger prestop needs --token')

const failures = []
const check = (ok, what) => {
  console.log(`${ok ? 'ok    ' : 'FAILED'} ${what}`)
  if (!ok) failures.push(what)
}

/** One request on a new connection. */
function request(port, path, headers = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode, body }))
      res.on('error', (err) => resolve({ status: 0, error: err.message }))
    })
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ status: 0, error: err.message }))
    req.end()
  })
}

/** A raw HTTP/1.1 request preceded by `prefix` (a PROXY header); resolves with the response body. */
function rawRequest(port, prefix) {
  return new Promise((resolve) => {
    const chunks = []
    const s = net.connect(port, '127.0.0.1', () => {
      s.end(Buffer.concat([prefix, Buffer.from('GET / HTTP/1.1\r\nHost: drainpipe\r\nConnection: close\r\n\r\n')]))
    })
    s.setTimeout(10_000, () => s.destroy())
    s.on('data', (d) => chunks.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) })
    })
  })
}

/** PROXY v2, PROXY command, TCP/IPv4, from src:srcPort to dst:dstPort, no TLVs. */
function proxyV2(src, srcPort, dst, dstPort) {
  const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex')
  const head = Buffer.from([0x21, 0x11, 0x00, 12])
  const addr = Buffer.alloc(12)
  src.split('.').forEach((o, i) => {
    addr[i] = Number(o)
  })
  dst.split('.').forEach((o, i) => {
    addr[4 + i] = Number(o)
  })
  addr.writeUInt16BE(srcPort, 8)
  addr.writeUInt16BE(dstPort, 10)
  return Buffer.concat([sig, head, addr])
}

const podman = (...args) => execFileSync('podman', args, { encoding: 'utf8' }).trim()

// 1. Ready, client address recovered, PID 1, non-root.
const readyBy = Date.now() + 30_000
let ready = false
while (Date.now() < readyBy) {
  if ((await request(admin, '/readyz')).status === 200) {
    ready = true
    break
  }
  await sleep(200)
}
check(ready, 'drainpipe answers /readyz 200 (app reachable)')
if (!ready) {
  console.log(podman('logs', name))
  process.exit(1)
}

const viaProxy = await rawRequest(listen, proxyV2('203.0.113.7', 40000, '10.0.0.5', 8080))
let seen = {}
try {
  seen = JSON.parse(viaProxy.body)
} catch {}
check(
  viaProxy.status === 200 && seen.xForwardedFor === '203.0.113.7',
  `PROXY v2 client 203.0.113.7 reaches the app as X-Forwarded-For (app saw ${JSON.stringify(seen.xForwardedFor)})`,
)

const hostPid = podman('inspect', '--format', '{{.State.Pid}}', name)
const status = readFileSync(`/proc/${hostPid}/status`, 'utf8')
const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? []
const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1]
const cmdline = readFileSync(`/proc/${hostPid}/cmdline`, 'utf8').split('\0').filter(Boolean)
check(nspid.at(-1) === '1', `drainpipe is PID 1 in its container (${cmdline.join(' ')})`)
check(uid !== undefined && uid !== '0', `drainpipe runs as a non-root user (uid ${uid})`)

// 2. podman stop under traffic.
let sent = 0
let okCount = 0
const errors = []
let sending = true
const stream = (async () => {
  while (sending) {
    sent++
    const r = await request(listen, '/')
    if (r.status === 200) okCount++
    else errors.push(r.error ?? `status ${r.status}`)
    await sleep(20)
  }
})()
await sleep(1000)
const slow = request(listen, `/?delay=${slowMs}`)
await sleep(100)

const auth = { authorization: `Bearer ${values.token}` }
const startedAt = Date.now()
let finished
if (trigger === 'sigterm') {
  const stopper = spawn('podman', ['stop', '-t', String(stopTimeout), name], { stdio: ['ignore', 'ignore', 'inherit'] })
  finished = new Promise((resolve) => stopper.on('exit', (code) => resolve({ code, ms: Date.now() - startedAt })))
} else {
  const unauthorized = await request(admin, '/prestop')
  check(unauthorized.status === 401, `/prestop without the token is refused (got ${unauthorized.status || unauthorized.error})`)
  finished = request(admin, '/prestop', auth).then((r) => ({ code: r.status, body: r.body, ms: Date.now() - startedAt }))
}

// Readiness must turn 503 while new connections are still being served. Polled, not read once
// after a fixed pause: `podman stop` is a process of its own that delivers SIGTERM when it gets
// a CPU, which on a busy machine took longer than the 300 ms this check used to wait.
const readyDeadline = Date.now() + 5000
let readyDuring = await request(admin, '/readyz')
while (readyDuring.status === 200 && Date.now() < readyDeadline) {
  await sleep(50)
  readyDuring = await request(admin, '/readyz')
}
check(
  readyDuring.status === 503,
  `/readyz answers 503 once termination began (got ${readyDuring.status || readyDuring.error}, ${Date.now() - startedAt} ms after the trigger)`,
)

await sleep(Math.max(0, lagMs - (Date.now() - startedAt)))
sending = false
await stream
const sentDuringStop = sent
const slowResult = await slow
const done = await finished

check(
  errors.length === 0 && okCount === sent,
  `every request succeeded: ${okCount}/${sent} (${lagMs} ms of new connections after termination began)${errors.length ? `; errors: ${errors.slice(0, 3).join(', ')}` : ''}`,
)
check(
  slowResult.status === 200,
  `the request in flight when termination began (${slowMs} ms) completed with ${slowResult.status || slowResult.error}`,
)

let stop = done
if (trigger === 'prestop') {
  check(done.code === 200, `/prestop answered ${done.code} after ${(done.ms / 1000).toFixed(1)} s, once drained`)
  check(
    podman('inspect', '--format', '{{.State.Running}}', name) === 'true',
    'the container stays up after a /prestop-driven drain (a native sidecar that exits is restarted)',
  )
  const after = await request(listen, '/')
  check(after.status === 0, `the pod port is closed (${after.error ?? after.status})`)
  const t0 = Date.now()
  const code = await new Promise((resolve) =>
    spawn('podman', ['stop', '-t', String(stopTimeout), name], { stdio: ['ignore', 'ignore', 'inherit'] }).on('exit', resolve),
  )
  stop = { code, ms: Date.now() - t0 }
  check(stop.ms < 5000, `SIGTERM after the drain: exit within ${(stop.ms / 1000).toFixed(1)} s`)
}
const exitCode = podman('inspect', '--format', '{{.State.ExitCode}}', name)
check(stop.code === 0 && exitCode === '0', `the container exited 0 (podman stop rc ${stop.code}, exit code ${exitCode})`)
check(
  stop.ms < stopTimeout * 1000 - 5000,
  `it exited by itself ${(stop.ms / 1000).toFixed(1)} s after SIGTERM, not killed at the ${stopTimeout} s timeout`,
)

const logs = podman('logs', name)
  .split('\n')
  .flatMap((l) => {
    try {
      return [JSON.parse(l)]
    } catch {
      return []
    }
  })
const transitions = logs.filter((l) => l.from && l.to).map((l) => `${l.from}→${l.to}`)
check(
  ['ready→terminating', 'terminating→draining'].every((t) => transitions.includes(t)),
  `drainpipe went through terminating and draining: ${transitions.join(', ')}`,
)
const report = logs.find((l) => l.report)?.report
check(
  report !== undefined && report.cut === 0 && String(report.trigger).toLowerCase() === trigger,
  `exit report: ${JSON.stringify(report)}`,
)

console.log(JSON.stringify({ trigger, requests: sentDuringStop, secondsToDrained: done.ms / 1000, report }))
if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed`)
  process.exit(1)
}
