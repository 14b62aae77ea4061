// What draining does to connections in particular states (http mode), over real sockets and
// processes: request bytes that had started arriving when draining began, pipelined requests,
// upgrades, and connections that sent only a PROXY header. (issue 12, items 3 to 6)
import t from 'tap'
import { startApp, startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { RawConnection } from '../helpers/http.js'
import { shortWait } from '../helpers/lifecycle-flags.js'
import { within } from '../helpers/wait.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const IDLE_GRACE_MS = 1000 // forwarder.ts IDLE_CLOSE_GRACE_MS: idle this long, a keep-alive is closeable

interface ExitReport {
  report: { cut: number; waitEnded: string }
  exitStatus: number
}

async function terminateAndWaitForDraining(dp: Drainpipe): Promise<void> {
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => l.to === 'draining', 15_000)
}

t.test('request bytes that had started arriving when draining began are answered; idle keep-alives are closed', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, ...shortWait(0.2), '--drain-timeout', '10'])

  // A fresh connection that sent part of a request head, then paused (a slow client, or a
  // request racing the close: its first segment is in, the rest is on the wire).
  const fresh = await RawConnection.open(dp.port)
  fresh.write('GET /?partial=fresh HTTP/1.1\r\nhost: x\r\n')
  // A keep-alive connection that was answered once, then sent part of its next request.
  const reused = await RawConnection.open(dp.port)
  reused.write('GET /?first HTTP/1.1\r\nhost: x\r\n\r\n')
  t.equal((await reused.readResponse()).status, 200, 'first request on the keep-alive connection')
  // A keep-alive connection answered once and idle since: nothing is owed on it.
  const idle = await RawConnection.open(dp.port)
  idle.write('GET /?only HTTP/1.1\r\nhost: x\r\n\r\n')
  t.equal((await idle.readResponse()).status, 200, "the idle connection's one request")
  reused.write('GET /?partial=reused HTTP/1.1\r\nhost: x\r\n')

  await sleep(IDLE_GRACE_MS + 300) // all three idle past the grace when draining starts
  await terminateAndWaitForDraining(dp)
  t.ok(await idle.closed(3000), 'the idle keep-alive was closed at drain start')

  await sleep(300) // well into draining
  fresh.write('\r\n')
  reused.write('\r\n')
  const a = await fresh.readResponse().catch((err: Error) => ({ status: 0, headers: {} as Record<string, string>, body: err.message }))
  const b = await reused.readResponse().catch((err: Error) => ({ status: 0, headers: {} as Record<string, string>, body: err.message }))
  t.equal(a.status, 200, 'the request whose head had started arriving on a fresh connection is answered', { body: a.body })
  t.equal(a.headers.connection, 'close', 'with Connection: close')
  t.equal(b.status, 200, 'the same on a reused keep-alive connection', { body: b.body })
  t.equal(b.headers.connection, 'close', 'with Connection: close')
  t.ok((await fresh.closed(3000)) && (await reused.closed(3000)), 'then both are closed')

  const exit = await within(dp.exited, 15_000)
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  const exiting = dp.logs.find((l) => l.msg === 'exiting') as unknown as ExitReport | undefined
  t.equal(exiting?.report.cut, 0, 'nothing cut')
})

t.test('pipelined requests received before the close are all answered, the last with Connection: close', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, ...shortWait(0.2), '--drain-timeout', '10'])
  const conn = await RawConnection.open(dp.port)
  // The first is slow: draining begins while it is in flight, with two more received behind it.
  conn.write('GET /?delay=1500&n=1 HTTP/1.1\r\nhost: x\r\n\r\nGET /?n=2 HTTP/1.1\r\nhost: x\r\n\r\nGET /?n=3 HTTP/1.1\r\nhost: x\r\n\r\n')
  await sleep(100)
  await terminateAndWaitForDraining(dp)
  const got: Array<{ status: number; connection?: string }> = []
  for (let i = 0; i < 3; i++) {
    const r = await conn.readResponse().catch(() => null)
    if (!r) break
    got.push({ status: r.status, ...(r.headers.connection ? { connection: r.headers.connection } : {}) })
  }
  t.same(
    got,
    [
      { status: 200, connection: 'keep-alive' },
      { status: 200, connection: 'keep-alive' },
      { status: 200, connection: 'close' },
    ],
    'three answers, in order; only the last closes',
  )
  t.ok(await conn.closed(3000), 'then the connection is closed')
  t.same(await within(dp.exited, 15_000), { code: 0, signal: null }, 'exit 0')
})

t.test('upgrades: a new one while draining is refused with 503; one made before keeps working until it ends', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, ...shortWait(0.2), '--drain-timeout', '3'])
  const UPGRADE = 'GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: echo\r\n'

  const before = await RawConnection.open(dp.port)
  before.write(`${UPGRADE}\r\n`)
  t.equal((await before.readResponse({ headOnly: true })).status, 101, 'upgraded before termination')
  const during = await RawConnection.open(dp.port)
  during.write(UPGRADE) // its head completes once draining began

  await sleep(IDLE_GRACE_MS + 300)
  await terminateAndWaitForDraining(dp)
  before.write('still-there')
  t.equal((await before.read(11)).toString(), 'still-there', 'the existing upgraded connection still relays while draining')

  during.write('\r\n')
  const refused = await during
    .readResponse()
    .catch((err: Error) => ({ status: 0, headers: {} as Record<string, string>, body: err.message }))
  t.equal(refused.status, 503, 'a new upgrade while draining: 503', { body: refused.body })
  t.match(refused.body, /upgrades are refused while draining/, 'saying why')
  t.equal(refused.headers.connection, 'close')
  t.ok(await during.closed(3000), 'and the connection closes')

  before.close() // the client ends its tunnel: the drain completes without a cut
  const exit = await within(dp.exited, 15_000)
  t.same(exit, { code: 0, signal: null }, 'exit 0')
})

t.test('a connection that sent only its PROXY header is closed at drain start and not counted as cut', async (t) => {
  const app = await startApp(t)
  const DRAIN_TIMEOUT_S = 4
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    ...shortWait(0.2),
    '--drain-timeout',
    String(DRAIN_TIMEOUT_S),
    '--proxy-protocol',
    'required',
    '--trusted-proxies',
    '127.0.0.0/8',
  ])
  // HAProxy, or an NLB with header placement on_first_ack: the header comes at once, the
  // client's first bytes later (here: never).
  const headerOnly = await RawConnection.open(dp.port)
  headerOnly.write(
    encodeV2({
      command: 'PROXY',
      family: 'TCP4',
      source: { address: '203.0.113.7', port: 40000 },
      destination: { address: '10.0.0.5', port: 80 },
      padTo: 100,
    }),
  )
  await sleep(200)
  const started = performance.now()
  await terminateAndWaitForDraining(dp)
  t.ok(await headerOnly.closed(2000), 'closed at drain start')
  const exit = await within(dp.exited, 15_000)
  const tookS = (performance.now() - started) / 1000
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  t.ok(
    tookS < DRAIN_TIMEOUT_S,
    `exited ${tookS.toFixed(2)} s after SIGTERM: the drain did not wait for --drain-timeout ${DRAIN_TIMEOUT_S} s`,
  )
  const exiting = dp.logs.find((l) => l.msg === 'exiting') as unknown as ExitReport | undefined
  t.equal(exiting?.report.cut, 0, 'not counted as cut')
  t.notOk(
    dp.logs.some((l) => /--drain-timeout reached/.test(String(l.msg))),
    'no drain-timeout warning',
  )
})
