// The deregistration decision end to end, over real sockets and a real drainpipe process: each
// test is one way the old decision called the load balancer gone while it was still sending
// (issue 10). New connections keep arriving after termination; every one must be served, and
// draining may only start after the last of them.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { startElbv2Emulator } from '../../bench/rollout/elbv2/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }

interface Outcome {
  at: number
  status: number | string
}

/** GET on a fresh connection from `localAddress`; resolves with the status or the error code. */
function freshGet(port: number, localAddress = '127.0.0.1'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, localAddress, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    req.on('timeout', () => {
      req.destroy()
      resolve('TIMEOUT')
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

/** New connections at fixed offsets (ms) from `from`; resolves with every outcome. */
async function arrivals(port: number, from: number, offsetsMs: number[], localAddress?: string): Promise<Outcome[]> {
  return Promise.all(
    offsetsMs.map(async (offset) => {
      await sleep(Math.max(0, from + offset - performance.now()))
      const at = performance.now() - from
      return { at, status: await freshGet(port, localAddress) }
    }),
  )
}

const every = (fromMs: number, toMs: number, stepMs: number): number[] => {
  const out: number[] = []
  for (let at = fromMs; at <= toMs; at += stepMs) out.push(at)
  return out
}

/** ms from SIGTERM (wall clock) until drainpipe logged the move to draining (NaN if never). */
function drainedAfter(dp: Drainpipe, sigtermWall: number): number {
  const line = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')
  return line === undefined ? Number.NaN : Date.parse(line.time as string) - sigtermWall
}

function assertAllServed(
  t: { same: (found: unknown, wanted: unknown, message: string) => unknown },
  outcomes: Outcome[],
  what: string,
): void {
  const failed = outcomes.filter((o) => o.status !== 200)
  t.same(failed, [], `${what}: every connection that arrived after termination was served (${outcomes.length})`)
}

t.test('traffic,elbv2: arrivals after the API says draining keep the pod serving (no latched observer)', async (t) => {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const arn = emu.createTargetGroup({ name: 'tg-latch', port: 8080 })
  emu.setTargetHealth(arn, '10.0.3.1', 8080, 'healthy')
  const app = await startApp(t)
  const dp = await startDrainpipe(
    t,
    [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--deregistration',
      'traffic,elbv2',
      '--quiet-period-min',
      '0.3',
      '--quiet-period-max',
      '0.5',
      '--lb-lag-max',
      '2.5',
      '--target-group-arn',
      arn,
      '--target-id',
      '10.0.3.1',
      '--target-port',
      '8080',
      '--elbv2-endpoint',
      emu.url,
      '--elbv2-poll-interval',
      '0.1',
    ],
    { env: AWS_ENV },
  )
  const from = performance.now()
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  // No traffic before termination; new connections every 250 ms from +0.8 s to +3 s, within the
  // lag bound; the API says draining at +1 s.
  const load = arrivals(dp.port, from, every(800, 3000, 250))
  await sleep(1000)
  emu.setTargetHealth(arn, '10.0.3.1', 8080, 'draining', 'Target.DeregistrationInProgress')
  const outcomes = await load
  const exit = await dp.exited
  t.equal(exit.code, 0)
  assertAllServed(t, outcomes, 'traffic,elbv2')
  const drainedAt = drainedAfter(dp, sigtermWall)
  t.ok(drainedAt >= 3500, `draining began after the last arrival and the lag bound counted from draining (+${drainedAt} ms)`)
})

t.test('--min-wait is a floor: arrivals after it keep the pod serving', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--min-wait',
    '1',
    '--quiet-period-min',
    '0.3',
    '--quiet-period-max',
    '0.5',
    '--lb-lag-max',
    '0.5',
  ])
  const from = performance.now()
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  const outcomes = await arrivals(dp.port, from, every(400, 2500, 250))
  t.equal((await dp.exited).code, 0)
  assertAllServed(t, outcomes, 'min-wait')
  t.ok(drainedAfter(dp, sigtermWall) > 2500, 'draining began after the last arrival')
})

t.test('no traffic history: the pod waits the lag bound instead of a short floor', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period-min', '0.3', '--lb-lag-max', '2'])
  const from = performance.now()
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  // The LB's first connection after termination comes late (it sends rarely), within its lag.
  const outcomes = await arrivals(dp.port, from, [1500])
  t.equal((await dp.exited).code, 0)
  assertAllServed(t, outcomes, 'zero history')
  const drainedAt = drainedAfter(dp, sigtermWall)
  t.ok(drainedAt >= 2000, `waited the lag bound (+${drainedAt} ms ≥ 2000 ms)`)
  const line = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')
  t.match(line, { basis: 'lag-bound' }, 'the log says the drain rests on the lag bound, not on evidence')
})

t.test('sparse traffic: too few arrivals to judge a gap means the lag bound, not the window ceiling', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period-min',
    '0.3',
    '--quiet-period-max',
    '1',
    '--arrival-history',
    '3',
    '--lb-lag-max',
    '3.5',
  ])
  // 2 connections/s for the 3 s before termination.
  const warm = performance.now()
  await arrivals(dp.port, warm, every(0, 2900, 500))
  const from = performance.now()
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  // Then gaps of 1.4 s: longer than the window ceiling, normal for this rate.
  const outcomes = await arrivals(dp.port, from, [200, 1600, 3000])
  t.equal((await dp.exited).code, 0)
  assertAllServed(t, outcomes, 'sparse')
  t.ok(drainedAfter(dp, sigtermWall) > 3000, 'draining began after the last arrival')
})

t.test('keep-alive traffic: responses ask clients to reconnect, and their reconnects keep the pod serving', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period-min',
    '0.3',
    '--quiet-period-max',
    '0.5',
    '--arrival-history',
    '0.5',
    '--lb-lag-max',
    '1',
  ])
  // Two keep-alive clients, a request every 20 ms each; their connections are older than the
  // arrival history when termination starts.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
  t.teardown(() => agent.destroy())
  const results: Array<{ sentAt: number; status: number | string; connection: string | undefined }> = []
  let stopAt = Number.POSITIVE_INFINITY
  const client = async () => {
    while (performance.now() < stopAt) {
      const sentAt = Date.now()
      const r = await new Promise<{ status: number | string; connection: string | undefined }>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: dp.port, path: '/', agent, timeout: 5000 }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }))
        })
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', connection: undefined }))
      })
      results.push({ sentAt, ...r })
      await sleep(20)
    }
  }
  const clients = Promise.all([client(), client()])
  await sleep(1200)
  const sigtermWall = Date.now()
  stopAt = performance.now() + 2500
  dp.proc.kill('SIGTERM')
  await clients
  t.equal((await dp.exited).code, 0)
  const terminating = Date.parse((await dp.waitForLog((l) => l.to === 'terminating')).time as string)
  const after = results.filter((r) => r.sentAt > terminating)
  t.ok(after.length > 20, `${after.length} requests after termination`)
  t.same(
    after.filter((r) => r.status !== 200),
    [],
    'every request after termination answered 200',
  )
  t.ok(
    after.every((r) => r.connection === 'close'),
    'every response after termination carries Connection: close',
  )
  t.ok(drainedAfter(dp, sigtermWall) > 2500, "draining began after the clients' last reconnect")
})

t.test('two LB nodes stopping at different times: each is judged by its own rate', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period-min',
    '0.2',
    '--quiet-period-max',
    '0.5',
    '--arrival-history',
    '2',
    '--lb-lag-max',
    '3.5',
  ])
  // Node A (127.0.0.2) sends 50 new connections/s, node B (127.0.0.3) one every 400 ms: A's rate
  // calls for a short window; B's for one beyond --quiet-period-max, so B waits for the lag bound.
  const warm = performance.now()
  await Promise.all([arrivals(dp.port, warm, every(0, 2000, 20), '127.0.0.2'), arrivals(dp.port, warm, every(0, 2000, 400), '127.0.0.3')])
  const from = performance.now()
  const sigtermWall = Date.now()
  dp.proc.kill('SIGTERM')
  // A stops at +0.5 s; B goes on at its own pace until +3 s (within the lag bound). Pooled, the
  // total rate would call B's 400 ms gaps a stop.
  const [a, b] = await Promise.all([
    arrivals(dp.port, from, every(0, 500, 20), '127.0.0.2'),
    arrivals(dp.port, from, every(200, 3000, 400), '127.0.0.3'),
  ])
  t.equal((await dp.exited).code, 0)
  assertAllServed(t, a!, 'node A')
  assertAllServed(t, b!, 'node B')
  t.ok(drainedAfter(dp, sigtermWall) > 3000, "draining began after node B's last connection")
  const status = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')
  t.match(status, { sourcesJudged: 'per-source' })
})

t.test('a connection accepted before the quiet window ends, whose request comes late, is served', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', '0.5', '--arrival-history', '2'])
  await arrivals(dp.port, performance.now(), every(0, 1000, 100))
  dp.proc.kill('SIGTERM')
  await sleep(200)
  // Connected at +0.2 s; the request (as an NLB sends the PROXY header with the client's first
  // bytes) only at +1.2 s, after the quiet window counted from the last request would have ended.
  const socket = net.connect({ host: '127.0.0.1', port: dp.port })
  const chunks: Buffer[] = []
  socket.on('data', (d: Buffer) => chunks.push(d))
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    socket.on('close', () => resolve('closed'))
  })
  await new Promise((r) => socket.once('connect', r))
  await sleep(1000)
  socket.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
  await closed
  t.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 200 /, 'the late request was answered 200')
  t.equal((await dp.exited).code, 0)
})

t.test(
  'dense traffic from three LB nodes: drains within the longest node window + 1 s of the last new connection, on evidence',
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--quiet-period-min',
      '0.3',
      '--quiet-period-max',
      '5',
      '--arrival-history',
      '2',
      '--lb-lag-max',
      '5',
    ])
    const nodes = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
    const warm = performance.now()
    await Promise.all(nodes.map((n) => arrivals(dp.port, warm, every(0, 2000, 40), n)))
    const from = performance.now()
    const sigtermWall = Date.now()
    dp.proc.kill('SIGTERM')
    const outcomes = (await Promise.all(nodes.map((n) => arrivals(dp.port, from, every(0, 1500, 40), n)))).flat()
    const lastAt = Math.max(...outcomes.map((o) => o.at))
    t.equal((await dp.exited).code, 0)
    assertAllServed(t, outcomes, 'dense')
    const line = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')!
    t.match(line, { basis: 'evidence', sourcesJudged: 'per-source', sources: 3 })
    const windowMs = (line.longestWindowSeconds as number) * 1000
    const drainedAt = drainedAfter(dp, sigtermWall)
    t.ok(windowMs < 5000, `each node's rate supported a window under the 5 s ceiling (${windowMs} ms)`)
    t.ok(drainedAt >= lastAt, `drained after the last connection (+${drainedAt} ms vs +${Math.round(lastAt)} ms)`)
    t.ok(
      drainedAt - lastAt <= windowMs + 1000,
      `drained ${Math.round(drainedAt - lastAt)} ms after the last connection: within the window (${windowMs} ms) + 1 s`,
    )
  },
)
