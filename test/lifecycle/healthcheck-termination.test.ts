// The healthcheck observer end to end: zero-byte probes from several "LB nodes" (distinct
// loopback sources) reach a real drainpipe; it drains once they have all gone silent.
import t from 'tap'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe } from '../helpers/processes.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** An NLB TCP health check: connect, send nothing, close. */
function probe(port: number, localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.end()
      resolve()
    })
    s.on('error', () => resolve())
  })
}

t.test('healthcheck: keeps serving while LB nodes probe, drains after they all went silent', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--deregistration',
    'healthcheck',
    '--healthcheck-silence-multiple',
    '3',
    '--max-wait',
    '30',
  ])
  const nodes = ['127.0.0.21', '127.0.0.22', '127.0.0.23']
  let probing = true
  const probes = (async () => {
    while (probing) {
      await Promise.all(nodes.map((n) => probe(dp.port, n)))
      await sleep(100)
    }
  })()
  await sleep(800) // enough gaps for each node's interval to be learned
  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text()
  const empty = Number(/^drainpipe_health_checks_total\{port="0",type="empty"\} (\d+)/m.exec(metrics)?.[1])
  t.ok(empty >= 15, `zero-byte probes counted as health checks (${empty})`)
  t.match(metrics, /^drainpipe_connections_accepted_total\{port="0",kind="direct"\} 0$/m, 'none was forwarded to the app as a client')
  dp.proc.kill('SIGTERM')
  await sleep(1000)
  t.equal(dp.proc.exitCode, null, 'still serving while the nodes keep probing')
  const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as { observers: { healthcheck: { satisfied: boolean } } }
  t.equal(status.observers.healthcheck.satisfied, false, '/status shows the observer waiting')

  probing = false
  await probes
  const silentAt = performance.now()
  const exit = await dp.exited
  const took = (performance.now() - silentAt) / 1000
  t.equal(exit.code, 0, 'exit 0')
  t.ok(took < 10, `drained ${took.toFixed(2)} s after the probes stopped`)
  t.match(
    dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining'),
    { basis: 'lag-bound' },
  )
})
