// A stalled event loop must not make the traffic observer call the LB stopped while a new
// connection waits in the accept queue: the timer that ends the window runs before the
// poll phase that would take that connection in.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { TrafficObserver } from '../../../src/lifecycle/observers/traffic.js'

t.test('an arrival queued during a stall counts before the window is declared quiet', async (t) => {
  const observations = new TrafficObservations()
  const server = net.createServer((s) => {
    observations.clientArrived('127.0.0.1', performance.now())
    s.destroy()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = (server.address() as net.AddressInfo).port

  // Another process connects while this one is busy.
  const child = spawn(process.execPath, ['-e', `setTimeout(() => require('net').connect(${port}, '127.0.0.1').on('connect', function () { console.log('connected'); this.end() }), 150)`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let connected = false
  child.stdout.on('data', () => { connected = true })
  await once(child, 'spawn')

  const observer = new TrafficObserver({ observations, quietPeriod: 0.3 })
  t.teardown(() => observer.stop())
  const started = performance.now()
  observer.start(started)

  // Busy for well past the window, and past the child's connect.
  const busyUntil = performance.now() + 1500
  while (performance.now() < busyUntil) { /* a stalled event loop */ }
  await once(child, 'exit')
  t.ok(connected, 'the other process connected during the stall')

  await observer.whenSatisfied()
  const view = observer.view() as { arrivalsSinceStart: number; lastArrivalAfterStartSeconds: number; satisfiedAfterSeconds: number }
  t.equal(view.arrivalsSinceStart, 1, 'the queued connection was recorded')
  t.ok(view.satisfiedAfterSeconds >= view.lastArrivalAfterStartSeconds + 0.3 - 0.001,
    `quiet declared ${view.satisfiedAfterSeconds} s after start, a full window after the arrival at ${view.lastArrivalAfterStartSeconds} s`)
})
