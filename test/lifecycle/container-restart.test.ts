// A /prestop drain that no SIGTERM follows is a container restart (the kubelet runs the app's
// preStop before restarting it after a failed liveness or startup probe): once the app is
// back, drainpipe reopens the pod port and becomes ready. A SIGTERM at any point still ends
// the pod. Real drainpipe and app processes (issue 12, item 1).
import t from 'tap'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { shortWait } from '../helpers/lifecycle-flags.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { rawExchange, parseResponse } from '../helpers/http.js'
import { within } from '../helpers/wait.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const GET = 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'

function connects(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve('connected')
    })
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

async function readyz(adminUrl: string): Promise<number> {
  const res = await fetch(`${adminUrl}/readyz`).catch(() => null)
  if (!res) return 0
  await res.text()
  return res.status
}

t.test('/prestop, then the app restarts without a SIGTERM: the pod port reopens and drainpipe is ready again', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, ...shortWait(0.2), '--drain-timeout', '2'])
  const prestop = await fetch(`${dp.adminUrl}/prestop`)
  t.equal(prestop.status, 200, '/prestop answered once drained')
  await prestop.text()
  t.equal(await connects(dp.port), 'ECONNREFUSED', 'the pod port is closed')

  // The app still up after its hook (a pod being deleted, its SIGTERM on the way) is no restart.
  await sleep(600)
  t.equal(
    ((await (await fetch(`${dp.adminUrl}/status`)).json()) as { state: string }).state,
    'drained',
    'still drained while the app merely stays up',
  )

  // The kubelet SIGTERMs the app container once the hook returned; it exits and is started again.
  app.proc.kill('SIGTERM')
  await app.exited
  await dp.waitForLog((l) => /^app unreachable/.test(String(l.msg)), 5000)
  await sleep(300)
  const down = (await (await fetch(`${dp.adminUrl}/status`)).json()) as { state: string; containerRestartWatch?: string }
  t.equal(down.state, 'drained', 'still drained while the app is down')
  t.equal(down.containerRestartWatch, 'app-down', '/status says it is waiting for the app to come back')
  await startApp(t, { port: app.port, name: 'app-restarted' })
  const restartedAt = performance.now() // the app listens again

  const back = await dp.waitForLog((l) => l.from === 'drained' && l.to === 'ready', 5000)
  t.match(String(back.reason), /container restart/, 'the transition says why')
  t.ok(performance.now() - restartedAt < 2000, 'seen soon after the app listens (probing every 100 ms meanwhile)')
  t.equal(await readyz(dp.adminUrl), 200, '/readyz 200 again')
  const served = parseResponse((await rawExchange(dp.port, GET)).data)
  t.equal(served.status, 200, 'the pod port serves again')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_state_transitions_total', { to: 'ready' }), 2, 'metrics: ready entered twice')
  t.equal(m.value('drainpipe_state', { state: 'ready' }), 1, 'metrics: state ready')

  // The pod is deleted later: a normal termination, from ready.
  dp.proc.kill('SIGTERM')
  const exit = await within(dp.exited, 15_000)
  t.same(exit, { code: 0, signal: null }, 'SIGTERM afterwards: drains and exits 0')
  const states = dp.logs.filter((l) => typeof l.to === 'string' && typeof l.from === 'string').map((l) => l.to)
  t.same(states, ['ready', 'terminating', 'draining', 'drained', 'ready', 'terminating', 'draining', 'drained'], 'states in order')
})

t.test('/prestop, app down, then SIGTERM: exits at once, without reopening when the app comes back', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, ...shortWait(0.2), '--drain-timeout', '2'])
  await (await fetch(`${dp.adminUrl}/prestop`)).text()
  app.proc.kill('SIGTERM')
  await app.exited
  await dp.waitForLog((l) => /^app unreachable/.test(String(l.msg)), 5000)
  dp.proc.kill('SIGTERM')
  await startApp(t, { port: app.port, name: 'app-restarted' })
  const exit = await within(dp.exited, 5000)
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  t.notOk(
    dp.logs.some((l) => l.from === 'drained' && l.to === 'ready'),
    'never went back to ready',
  )
})
