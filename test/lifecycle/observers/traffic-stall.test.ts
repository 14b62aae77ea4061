// A stalled event loop must not make the decision call the LB stopped while a new connection
// waits in the accept queue: the traffic observer's timer that ends the window runs in the
// timers phase, before the poll phase that takes that connection in. The observer may say
// "quiet" for that moment; the decision's settle must see the connection and not decide.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import { Decision } from '../../../src/lifecycle/decision.js'
import { TrafficObserver } from '../../../src/lifecycle/observers/traffic.js'

t.test('an arrival queued during a stall counts before the decision is final', async (t) => {
  const observations = new TrafficObservations()
  const server = net.createServer((s) => {
    // As the ingress does: counted from accept, classified a client at once.
    const at = performance.now()
    observations.connectionClassified(observations.connectionAccepted('127.0.0.1', at), at, true)
    s.destroy()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  observations.clientArrived('127.0.0.1', performance.now() - 1) // the node sent before termination

  // Another process connects while this one is busy.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `setTimeout(() => require('net').connect(${port}, '127.0.0.1').on('connect', function () { console.log('connected'); this.end() }), 150)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let connected = false
  child.stdout.on('data', () => {
    connected = true
  })
  await once(child, 'spawn')

  const lagClock = new LagClock(60_000, false)
  const observer = new TrafficObserver({ observations, lagClock, quietPeriodMs: 300 })
  const decision = new Decision({ observers: [observer], lagClock, minWaitMs: 0, logger: { info() {}, warn() {}, error() {}, debug() {} } })
  t.teardown(() => {
    observer.stop()
    decision.stop()
  })
  const started = performance.now()
  lagClock.start(started)
  observer.start(started)
  decision.start(started)

  // Busy for well past the window, and past the child's connect.
  const busyUntil = performance.now() + 1500
  while (performance.now() < busyUntil) {
    /* a stalled event loop */
  }
  await once(child, 'exit')
  t.ok(connected, 'the other process connected during the stall')

  await decision.whenAgreed()
  const decidedAt = performance.now()
  t.equal(observer.view().arrivalsSinceStart, 1, 'the queued connection was recorded')
  const last = observations.lastArrivalAt!
  t.ok(last > started, 'after termination began')
  t.ok(decidedAt - last >= 300, `decided ${(decidedAt - last).toFixed(0)} ms after the queued arrival: a full window`)
  t.comment(`agreements revoked during the settle: ${decision.revocations}, quiet revoked: ${observer.revocations}`)
})
