// Lifecycle under faults: SIGTERM while the app is down, a storm of repeated signals,
// /prestop called twice at once. (SIGTERM while out of file descriptors is in
// resource-limits.test.ts.)
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { within } from '../helpers/wait.js'

const GET = 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'

t.test('SIGTERM during an app outage: requests meanwhile get 502, drainpipe still drains and exits 0', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period',
    '0.5',
    '--drain-timeout',
    '2',
    '--upstream-probe-interval',
    '0.2',
  ])
  app.proc.kill('SIGKILL')
  await app.exited
  dp.proc.kill('SIGTERM')
  const during = parseResponse((await rawExchange(dp.port, GET)).data)
  t.equal(during.status, 502, 'a request while terminating without an app: 502, not a hang')
  const exit = await within(dp.exited, 15_000)
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  t.ok(
    dp.logs.some((l) => l.to === 'drained'),
    'went through drained',
  )
})

t.test(
  'repeated signals: SIGTERMs and one SIGINT after the first are logged and ignored; the sequence still runs its course and exits 0',
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--quiet-period',
      '0.2',
      '--min-wait',
      '1.5',
      '--drain-timeout',
      '2',
    ])
    // A slow request in flight must still complete despite the signal storm.
    const slow = rawExchange(dp.port, 'GET /?delay=1000 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', { timeoutMs: 15_000 })
    await new Promise((r) => setTimeout(r, 100))
    const signalledAt = performance.now()
    dp.proc.kill('SIGTERM')
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 20))
      // One SIGINT among them: only a second SIGINT ends the wait (signals.test.ts).
      dp.proc.kill(i === 4 ? 'SIGINT' : 'SIGTERM')
    }
    t.equal(parseResponse((await slow).data).status, 200, 'the in-flight request completed')
    const exit = await within(dp.exited, 15_000)
    const after = performance.now() - signalledAt
    t.same(exit, { code: 0, signal: null }, 'exit 0')
    t.ok(after >= 1400, `exited ${Math.round(after)} ms after the first signal: the later ones did not cut --min-wait 1.5 short`)
    const ignored = dp.logs.filter((l) => /again: ignored/.test(String(l.msg)))
    t.equal(ignored.length, 10, 'each later signal logged as ignored')
    t.equal(dp.logs.filter((l) => l.to === 'terminating').length, 1, 'one termination')
  },
)

t.test('/prestop twice at once: one drain, both answered 200 with the same report; SIGTERM afterwards exits 0 at once', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', '0.5', '--drain-timeout', '2'])
  const call = () => rawExchange(dp.adminPort, 'GET /prestop HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', { timeoutMs: 20_000 })
  const [a, b] = await Promise.all([call(), call()])
  const ra = parseResponse(a.data)
  const rb = parseResponse(b.data)
  t.equal(ra.status, 200)
  t.equal(rb.status, 200)
  t.same(JSON.parse(ra.body), JSON.parse(rb.body), 'the same drain report')
  await dp.waitForLog((l) => l.to === 'drained') // log lines may trail the answers
  t.equal(dp.logs.filter((l) => l.to === 'draining').length, 1, 'one drain')
  t.ok(
    dp.logs.some((l) => /already in progress/.test(String(l.msg))),
    'the second call joined the first',
  )
  const third = parseResponse((await call()).data)
  t.equal(third.status, 200, 'a later call answers at once with the finished drain')
  const signalledAt = performance.now()
  dp.proc.kill('SIGTERM')
  const exit = await within(dp.exited, 5000)
  t.same(exit, { code: 0, signal: null })
  t.ok(performance.now() - signalledAt < 3000, 'exit right after SIGTERM: the drain was already done')
})
