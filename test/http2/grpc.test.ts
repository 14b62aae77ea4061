// A real gRPC client and server (@grpc/grpc-js) through a real drainpipe process
// (--upstream-protocol h2c), behind a loopback "load balancer" that sends an NLB-shaped PROXY
// v2 header for each connection (grpc-js cannot write one itself): unary and bidirectional
// streaming calls, the app seeing the client's address; and a rollout: a client calling
// without pause through SIGTERM loses no call, its streaming call in flight completes, and it
// moves to the new pod when the load balancer does.
import t from 'tap'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { startDrainpipe } from '../helpers/processes.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startRelay } from '../helpers/h2.js'
import { grpcClient, startGrpcApp, unary, type Msg } from '../helpers/grpc.js'

const h2c = (port: number) => ['--upstream', `127.0.0.1:${port}`, '--upstream-protocol', 'h2c']

t.test('unary and bidirectional streaming calls; the app sees the client address', async (t) => {
  const app = await startGrpcApp(t, 'a')
  const dp = await startDrainpipe(t, h2c(app.port))
  const lb = await startRelay(t, dp.port)
  const client = grpcClient(t, lb.port)

  const r = await unary(client, { text: 'hello', seq: 1 })
  t.equal(r.text, 'hello')
  t.equal(r.servedBy, 'a')
  t.equal(r.client, '127.0.0.1', "the client's address from the PROXY header (drainpipe's peer is the relay's 127.0.0.2)")

  const chat = client.Chat()
  const got: Msg[] = []
  chat.on('data', (m: Msg) => got.push(m))
  for (let i = 0; i < 5; i++) chat.write({ text: `m${i}`, seq: i })
  chat.end()
  await once(chat, 'end')
  t.same(
    got.map((m) => m.seq),
    [0, 1, 2, 3, 4],
    'every message echoed, in order',
  )
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_http2_connections_total'), 1, 'one HTTP/2 connection (grpc-js multiplexes)')
  t.equal(m.value('drainpipe_http2_streams_total'), 2, 'two streams: the calls')
})

t.test('rollout: a client calling through SIGTERM loses no call; it reconnects after GOAWAY, its stream in flight completes', async (t) => {
  const oldApp = await startGrpcApp(t, 'old')
  const newApp = await startGrpcApp(t, 'new')
  // The old pod waits until its LB node has been quiet for 2 s: while the client keeps
  // reconnecting through the LB, it keeps serving.
  const oldPod = await startDrainpipe(t, [...h2c(oldApp.port), '--quiet-period', '2', '--lb-lag-max', '2'])
  const newPod = await startDrainpipe(t, h2c(newApp.port))
  const lb = await startRelay(t, oldPod.port)
  const client = grpcClient(t, lb.port)

  const calls: Array<{ startedAt: number; doneAt: number; servedBy: string }> = []
  const failures: string[] = []
  let running = true
  let seq = 0
  const caller = async () => {
    while (running) {
      const n = seq++
      const startedAt = performance.now()
      try {
        const r = await unary(client, { text: 'call', seq: n, delayMs: 20 })
        calls.push({ startedAt, doneAt: performance.now(), servedBy: r.servedBy ?? '?' })
      } catch (err) {
        failures.push(`${n}: ${(err as Error).message}`)
      }
    }
  }
  const callers = Array.from({ length: 4 }, caller)

  // A streaming call in flight across the SIGTERM.
  const chat = client.Chat()
  const echoed: Msg[] = []
  chat.on('data', (m: Msg) => echoed.push(m))
  const chatDone = new Promise<string>((resolve) => {
    chat.on('end', () => resolve('ended'))
    chat.on('error', (err) => resolve(`error: ${err.message}`))
  })
  chat.write({ text: 'before', seq: 0 })

  await new Promise((r) => setTimeout(r, 500))
  oldPod.proc.kill('SIGTERM')
  await oldPod.waitForLog((l) => l.to === 'terminating')
  await new Promise((r) => setTimeout(r, 1000))
  chat.write({ text: 'during the wait', seq: 1 })
  const goaways = (await scrapeMetrics(oldPod.adminUrl)).value('drainpipe_http2_goaways_total', { reason: 'terminate' })

  // The load balancer deregisters the old pod: new connections go to the new one.
  lb.retarget(newPod.port)
  await new Promise((r) => setTimeout(r, 500))
  chat.write({ text: 'after deregistration', seq: 2 })
  chat.end()
  t.equal(await chatDone, 'ended', 'the streaming call in flight at SIGTERM completed')
  t.same(
    echoed.map((m) => m.seq),
    [0, 1, 2],
    'every message of it answered',
  )

  const exit = await oldPod.exited
  running = false
  await Promise.all(callers)
  t.same(exit, { code: 0, signal: null }, 'the old pod drained and exited 0')
  const report = oldPod.logs.find((l) => l.msg === 'exiting')?.report as { cut: number } | undefined
  t.equal(report?.cut, 0, 'nothing was cut')
  t.ok(goaways >= 1, `the client's connections got the graceful GOAWAY (${goaways})`)
  t.same(failures, [], 'no call failed')
  const byOld = calls.filter((c) => c.servedBy === 'old')
  const byNew = calls.filter((c) => c.servedBy === 'new')
  t.ok(byOld.length > 0 && byNew.length > 0, `calls went to the old pod (${byOld.length}), then to the new one (${byNew.length})`)
  // Once a call was answered by the new pod, the old connection had been told to go: every call
  // started after that went to the new pod (calls started before may still finish on the old one).
  const firstNewAnswer = Math.min(...byNew.map((c) => c.doneAt))
  t.same(
    calls.filter((c) => c.startedAt > firstNewAnswer && c.servedBy !== 'new'),
    [],
    'and stayed there',
  )
  t.ok(calls.length > 40, `the client kept calling (${calls.length} calls)`)
})
