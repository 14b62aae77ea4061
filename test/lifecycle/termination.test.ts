// The termination sequence end to end: real drainpipe and app processes, real sockets.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe } from '../helpers/processes.js'

interface Outcome {
  ok: boolean
  status?: number
  error?: string
  connection?: string
}

/** One GET on a brand-new connection (what a load balancer does per flow). */
function getOnNewConnection(port: number, path = '/'): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, connection: res.headers.connection }))
      res.on('error', (err) => resolve({ ok: false, error: err.message }))
    })
    req.on('error', (err) => resolve({ ok: false, error: (err as NodeJS.ErrnoException).code ?? err.message }))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function readyz(adminPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => null)
  if (!res) return 0
  await res.text()
  return res.status
}

t.test('SIGTERM under a steady stream of new connections', async (t) => {
  const app = await startApp(t)
  const QUIET_S = 1
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', String(QUIET_S), '--drain-timeout', '10'])
  t.equal(await readyz(dp.adminPort), 200, 'ready before termination')

  // New connections arrive every 40 ms, as from a load balancer that has not yet heard.
  const outcomes: Outcome[] = []
  let streaming = true
  let lastSentAt = 0
  const stream = (async () => {
    while (streaming) {
      lastSentAt = performance.now()
      void getOnNewConnection(dp.port).then((o) => outcomes.push(o))
      await sleep(40)
    }
  })()

  // A keep-alive client sending a request every 50 ms on one connection.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const keepAlive: Outcome[] = []
  const keepAliveDone = (async () => {
    for (let i = 0; i < 1000; i++) {
      const o = await new Promise<Outcome>((resolve) => {
        http
          .get({ host: '127.0.0.1', port: dp.port, path: '/', agent }, (res) => {
            res.resume()
            res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, connection: res.headers.connection }))
          })
          .on('error', (err) => resolve({ ok: false, error: err.message }))
      })
      keepAlive.push(o)
      if (!o.ok || o.connection === 'close') return
      await sleep(50)
    }
  })()

  await sleep(1500) // arrival history before termination
  const slow = getOnNewConnection(dp.port, '/?delay=1500')
  await sleep(50)

  const killedAt = performance.now()
  dp.proc.kill('SIGTERM')
  let unreadyAfterMs = -1
  for (let i = 0; i < 100; i++) {
    if ((await readyz(dp.adminPort)) === 503) {
      unreadyAfterMs = performance.now() - killedAt
      break
    }
    await sleep(5)
  }
  t.ok(unreadyAfterMs >= 0 && unreadyAfterMs < 100, `/readyz turned 503 ${unreadyAfterMs.toFixed(1)} ms after SIGTERM (< 100 ms)`)

  // The load balancer keeps sending for 2 s after termination started, then stops.
  await sleep(2000)
  streaming = false
  await stream
  const lastConnectionAt = lastSentAt

  const exit = await dp.exited
  const exitedAt = performance.now()
  const slowOutcome = await slow
  await keepAliveDone
  agent.destroy()

  t.equal(exit.code, 0, 'exit status 0')
  const afterLast = (exitedAt - lastConnectionAt) / 1000
  t.ok(afterLast >= QUIET_S, `exited ${afterLast.toFixed(2)} s after the last new connection: not before the ${QUIET_S} s quiet period`)
  t.ok(
    afterLast <= QUIET_S + 1 + 1,
    `exited within quiet period + in-flight time + 1 s of the last new connection (${afterLast.toFixed(2)} s)`,
  )
  await sleep(100)
  const failed = outcomes.filter((o) => !o.ok)
  t.ok(outcomes.length > 50, `${outcomes.length} new-connection requests sent`)
  t.same(failed, [], 'every request sent while connections kept arriving succeeded')
  t.same(slowOutcome, { ok: true, status: 200, connection: 'close' }, 'the slow in-flight request completed with 200 and Connection: close')
  t.ok(keepAlive.length > 10, `${keepAlive.length} keep-alive requests`)
  t.same(
    keepAlive.filter((o) => !o.ok),
    [],
    'no keep-alive request failed',
  )
  t.equal(keepAlive.at(-1)?.connection, 'close', 'the keep-alive client was told Connection: close')

  const exiting = dp.logs.find((l) => l.msg === 'exiting') as
    | { report: { waitEnded: string; cut: number; lastConnectionMs: number } }
    | undefined
  t.equal(exiting?.report.waitEnded, 'observers', 'the wait ended because the traffic observer saw the quiet window')
  t.equal(exiting?.report.cut, 0, 'nothing was cut')
  t.ok((exiting?.report.lastConnectionMs ?? 0) >= 1900, 'the last new connection was seen about 2 s after termination started')
  const states = dp.logs.filter((l) => typeof l.from === 'string' && typeof l.to === 'string').map((l) => l.to)
  t.same(states, ['ready', 'terminating', 'draining', 'drained'], 'states in order')
})

t.test('/prestop blocks until drained, needs the token, and drainpipe exits on the later SIGTERM', async (t) => {
  const app = await startApp(t)
  // No traffic before /prestop: no node has a quiet window to earn, so the wait is the lag bound.
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period',
    '0.5',
    '--lb-lag-max',
    '0.5',
    '--admin-token',
    's3cret',
  ])
  const url = `${dp.adminUrl}/prestop`

  t.equal((await fetch(url)).status, 401, 'no token: 401')
  t.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'wrong token: 401')
  t.equal(await readyz(dp.adminPort), 200, 'a refused /prestop changed nothing')

  const started = performance.now()
  const [a, b] = await Promise.all([
    fetch(url, { headers: { authorization: 'Bearer s3cret' } }),
    fetch(url, { method: 'POST', headers: { authorization: 'Bearer s3cret' } }),
  ])
  const tookS = (performance.now() - started) / 1000
  t.equal(a.status, 200, 'GET /prestop answered 200')
  t.equal(b.status, 200, 'a concurrent POST /prestop answered 200 too')
  const report = (await a.json()) as { trigger: string; waitEnded: string }
  await b.text()
  t.ok(tookS >= 0.5, `it answered only after the wait (the lag bound, ${tookS.toFixed(2)} s)`)
  t.equal(report.trigger, 'prestop')
  t.equal(report.waitEnded, 'observers')

  const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as { state: string }
  t.equal(status.state, 'drained', 'drainpipe stays up, drained')
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(dp.port, '127.0.0.1', () => {
      s.destroy()
      resolve('connected')
    })
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
  t.equal(refused, 'ECONNREFUSED', 'the pod port is closed')
  t.equal(dp.proc.exitCode, null, 'still running after the preStop drain')

  const killedAt = performance.now()
  dp.proc.kill('SIGTERM')
  const exit = await dp.exited
  t.equal(exit.code, 0, 'exit 0 on SIGTERM')
  t.ok(performance.now() - killedAt < 1500, 'exited at once')
})

t.test('SIGTERM during a /prestop drain waits for the drain; the preStop caller still gets its answer', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', '0.8'])
  const prestop = fetch(`${dp.adminUrl}/prestop`) // loopback: no token needed
  await dp.waitForLog((l) => l.to === 'terminating')
  dp.proc.kill('SIGTERM')
  await sleep(100)
  dp.proc.kill('SIGTERM')
  const res = await prestop
  t.equal(res.status, 200, '/prestop answered 200')
  const exit = await dp.exited
  t.equal(exit.code, 0, 'exit 0')
  t.ok(
    dp.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('ignored')),
    'the repeated signal was logged and ignored',
  )
  t.ok(dp.logs.findIndex((l) => l.to === 'drained') < dp.logs.findIndex((l) => l.msg === 'exiting'), 'exited after drained')
})

t.test('--drain-timeout cuts a connection that never ends and reports the count', async (t) => {
  // An upstream that accepts and never closes.
  const held = new Set<net.Socket>()
  const upstream = net.createServer((s) => {
    held.add(s)
    s.on('error', () => {})
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => {
    for (const s of held) s.destroy()
    upstream.close()
  })
  const port = (upstream.address() as net.AddressInfo).port

  const dp = await startDrainpipe(t, [
    '--mode',
    'tcp',
    '--upstream',
    `127.0.0.1:${port}`,
    '--quiet-period',
    '0.2',
    '--drain-timeout',
    '0.5',
  ])
  const client = net.connect(dp.port, '127.0.0.1')
  await once(client, 'connect')
  client.write('hello')
  client.on('error', () => {})
  const clientClosed = once(client, 'close')
  await sleep(100)
  const started = performance.now()
  dp.proc.kill('SIGTERM')
  const exit = await dp.exited
  const took = (performance.now() - started) / 1000
  t.equal(exit.code, 4, 'exit 4: connections were cut at --drain-timeout')
  t.ok(took >= 0.7, `waited quiet period + drain timeout (${took.toFixed(2)} s)`)
  await clientClosed
  t.pass('the client connection was closed')
  const warn = dp.logs.find((l) => l.cut === 1 && l.level === 40)
  t.ok(warn, 'a warning reports 1 connection cut')
  const exiting = dp.logs.find((l) => l.msg === 'exiting') as { report: { cut: number } } | undefined
  t.equal(exiting?.report.cut, 1, 'the exit report counts it')
})
