// The traffic observer over several pod ports, in-process with real timers: every (port, peer) is
// a source of its own, so a busy port never lends its short window to a sparse one sent by the
// same LB node; pooling is per port; an arrival on any port revokes quiet.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import { TrafficObserver, type TrafficObserverOptions } from '../../../src/lifecycle/observers/traffic.js'
import type { Observed } from '../../../src/lifecycle/observers/ports.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

const NODE = '10.0.1.10'

/** `count` arrivals from NODE, evenly over the 60 s before `at`. */
function history(observations: TrafficObservations, at: number, count: number, node = NODE): void {
  for (let i = 0; i < count; i++) observations.clientArrived(node, at - 60_000 + (i + 1) * (60_000 / (count + 1)))
}

function observer(t: Teardown, observations: Observed, opts: Partial<TrafficObserverOptions> = {}) {
  // A lag bound far beyond the test: a source without evidence stays unquiet throughout.
  const lagClock = new LagClock(600_000, false)
  const o = new TrafficObserver({ observations, lagClock, quietPeriodMinMs: 100, quietPeriodMaxMs: 10_000, ...opts })
  t.teardown(() => o.stop())
  const at = performance.now()
  lagClock.start(at)
  o.start(at)
  return o
}

function twoPorts(at: number) {
  const web = new TrafficObservations({ since: at - 60_000 })
  const api = new TrafficObservations({ since: at - 60_000 })
  history(web, at, 6000) // 100/s: a window of a fraction of a second
  history(api, at, 3) // 3 a minute: no evidence within --quiet-period-max
  return { web, api }
}

t.test('a busy port and a sparse one from the same LB node: each judged by its own traffic', async (t) => {
  const now = performance.now()
  const { web, api } = twoPorts(now)
  const o = observer(t, [
    { name: 'web', observations: web },
    { name: 'api', observations: api },
  ])
  const judged = o.judgeAt(now)
  t.same([...judged.windows.keys()].sort(), ['api/10.0.1.10', 'web/10.0.1.10'], 'one source per (port, peer)')
  t.equal(judged.windows.get('web/10.0.1.10')!.basis, 'evidence', 'the busy port has evidence')
  t.equal(judged.windows.get('api/10.0.1.10')!.basis, 'lag-bound', 'the sparse port has none: it waits for the lag bound')
  await sleep(1500)
  t.equal(o.satisfied, false, 'not quiet: the sparse port has not earned quiet')
  const sources = o.view().sources as Array<{ source: string; port: string; quiet: boolean }>
  t.same(
    sources.map((s) => [s.port, s.source, s.quiet]).sort(),
    [
      ['api', 'api/10.0.1.10', false],
      ['web', 'web/10.0.1.10', true],
    ],
    'the view names each source port',
  )

  // The same arrivals seen as one port (what keying by peer alone would do): quiet within the
  // busy port's short window, though the sparse port's target group may still be sending.
  const merged = new TrafficObservations({ since: now - 60_000 })
  history(merged, now, 6000)
  history(merged, now, 3)
  const one = observer(t, merged)
  await sleep(1500)
  t.equal(one.satisfied, true, 'judged as one source, the pod would be called quiet')
})

t.test('pooling is per port; an arrival on either port revokes quiet', async (t) => {
  const now = performance.now()
  const web = new TrafficObservations({ since: now - 60_000 })
  const api = new TrafficObservations({ since: now - 60_000 })
  history(web, now, 6000, '10.0.1.10')
  history(api, now, 6000, '10.0.2.10')
  const o = observer(
    t,
    [
      { name: 'web', observations: web },
      { name: 'api', observations: api },
    ],
    { sources: 'pooled' },
  )
  t.same([...o.judgeAt(now).windows.keys()].sort(), ['api/(all peers)', 'web/(all peers)'], 'one pool per port')
  const quiet = () =>
    new Promise<void>((resolve) => {
      if (o.satisfied) resolve()
      else o.onChange(() => o.satisfied && resolve())
    })
  await quiet()
  t.ok(o.satisfied, 'both ports quiet')
  const revoked = new Promise<void>((resolve) => o.onChange(() => !o.satisfied && resolve()))
  api.clientArrived('10.0.2.10', performance.now())
  await revoked
  t.equal(o.satisfied, false, 'an arrival on the api port revoked quiet')
  t.equal(o.revocations, 1)
  await quiet()
  t.ok(o.satisfied, 'quiet again once the api port earned a whole window')
})
