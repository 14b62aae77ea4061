// The kubelet model: termination order of preStop hooks, SIGTERM and SIGKILL, for classic and
// native sidecars, with real child processes.
import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pod, type PodSpec, type ContainerSpec } from '../../bench/rollout/kube/pod.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

// A container that, on SIGTERM, exits 50 ms later ('exit') or not at all ('ignore').
function container(name: string, onTerm: 'exit' | 'ignore', extra: Partial<ContainerSpec> = {}): ContainerSpec {
  const script = `
    process.on('SIGTERM', () => { ${onTerm === 'exit' ? 'setTimeout(() => process.exit(0), 50)' : ''} })
    setInterval(() => {}, 1000)
    console.log('up')`
  return { name, command: process.execPath, args: ['-e', script], ...extra }
}

async function hookServer(t: Teardown, holdMs: number) {
  const calls: number[] = []
  const server = http.createServer((req, res) => {
    calls.push(Date.now())
    setTimeout(() => res.end('drained'), holdMs)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { calls, port: (server.address() as { port: number }).port }
}

// Readiness is answered by the test itself; the containers serve nothing.
let readyPort = 0
t.before(async () => {
  const server = http.createServer((req, res) => res.end('ok'))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  readyPort = (server.address() as { port: number }).port
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
})

function spec(containers: ContainerSpec[], gracePeriodSeconds = 100): PodSpec {
  return {
    containers,
    readiness: { host: '127.0.0.1', port: readyPort, path: '/' },
    readinessGate: false,
    gracePeriodSeconds,
    readinessPeriodSeconds: 1,
  }
}

async function started(t: Teardown, pod: Pod): Promise<void> {
  t.teardown(() => pod.kill())
  pod.start()
  // Ready, and every container has its SIGTERM handler in place (it prints "up" after).
  const up = (): boolean => pod.ready && pod.spec.containers.every((c) => pod.tail(c.name).includes('up'))
  const end = Date.now() + 10_000
  while (!up() && Date.now() < end) await sleep(20)
  if (!up()) throw new Error('pod not ready')
}

function at(events: string[], pattern: RegExp): number {
  const line = events.find((e) => pattern.test(e))
  if (line === undefined) throw new Error(`no event ${pattern} in:\n${events.join('\n')}`)
  return Number(/\+(\d+\.\d+)s/.exec(line)![1])
}

t.test("classic sidecar: the sidecar gets SIGTERM at once while the app's preStop still runs", async (t) => {
  const hook = await hookServer(t, 400)
  const pod = new Pod(
    'classic',
    '127.0.0.1',
    1,
    spec([
      container('proxy', 'exit'),
      container('app', 'exit', { preStop: { httpGet: { host: '127.0.0.1', port: hook.port, path: '/prestop' } } }),
    ]),
    0.01,
  )
  await started(t, pod)
  await pod.terminate()
  t.ok(at(pod.events, /proxy SIGTERM/) < 0.2, 'proxy signalled at once')
  t.ok(at(pod.events, /app preStop GET \/prestop: 200/) >= 0.4, 'the hook waited for its answer')
  t.ok(at(pod.events, /app SIGTERM/) >= at(pod.events, /app preStop/), 'app SIGTERM only after its preStop')
  t.equal(hook.calls.length, 1)
})

t.test('native sidecar: SIGTERM only after the app exited', async (t) => {
  const hook = await hookServer(t, 300)
  const pod = new Pod(
    'native',
    '127.0.0.1',
    1,
    spec([
      container('proxy', 'exit', { nativeSidecar: true }),
      container('app', 'exit', { preStop: { httpGet: { host: '127.0.0.1', port: hook.port, path: '/prestop' } } }),
    ]),
    0.01,
  )
  await started(t, pod)
  await pod.terminate()
  t.ok(at(pod.events, /proxy SIGTERM/) >= at(pod.events, /app exited/), `proxy after app exit:\n${pod.events.join('\n')}`)
  t.ok(at(pod.events, /app preStop/) >= 0.3)
})

t.test('a container that ignores SIGTERM is killed when the grace period ends; a preStop overrun gets 2 s more', async (t) => {
  const hook = await hookServer(t, 10_000)
  // timeScale 0.01: grace 100 s → 1 s; the 2 s overrun → 20 ms.
  const pod = new Pod(
    'stubborn',
    '127.0.0.1',
    1,
    spec([
      container('app', 'ignore', { preStop: { sleepSeconds: 30 } }),
      container('hooked', 'ignore', { preStop: { httpGet: { host: '127.0.0.1', port: hook.port, path: '/slow' } } }),
    ]),
    0.01,
  )
  await started(t, pod)
  const t0 = Date.now()
  await pod.terminate()
  const took = (Date.now() - t0) / 1000
  t.ok(at(pod.events, /app preStop sleep 30: slept/) >= 0.3, 'sleep preStop ran its 0.3 s')
  t.ok(at(pod.events, /app SIGKILL \(grace period over\)/) >= 1, 'app killed at the end of the grace period')
  t.match(pod.events.join('\n'), /hooked preStop GET \/slow: overrun/)
  t.ok(at(pod.events, /hooked SIGKILL/) >= 1.02, 'overrun: SIGTERM, then SIGKILL 2 simulated s later')
  t.ok(took < 5, `terminated in ${took} s`)
  t.ok(pod.livedAfterTermination()! >= 1000)
})
