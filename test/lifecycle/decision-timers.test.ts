// The Decision's own timers (--min-wait, the lag deadline) can fire up to a millisecond early by
// performance.now(): the event loop's clock counts whole milliseconds. A look that finds the
// floor not yet passed must look again, or the decision waits for --max-wait.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Decision } from '../../src/lifecycle/decision.js'
import { LagClock } from '../../src/lifecycle/lag-clock.js'
import type { DeregistrationObserver, ObserverName } from '../../src/lifecycle/observers/observer.js'

const silent = { info() {}, warn() {}, error() {}, debug() {} }

/** Satisfied from the start and never changes: only the Decision's timers can end the wait. */
const content = (name: ObserverName): DeregistrationObserver => ({
  name,
  satisfied: true,
  onChange() {},
  start() {},
  view: () => ({}),
  summary: () => ({}),
  stop() {},
})

/** `runs` decisions started a few odd milliseconds apart; how many decided within `withinMs`. */
async function decided(runs: number, make: () => { decision: Decision; lag: LagClock }, withinMs: number): Promise<number> {
  let ok = 0
  await Promise.all(
    Array.from({ length: runs }, async (_, i) => {
      await sleep(i * 7.3)
      const { decision, lag } = make()
      const startedAt = performance.now()
      lag.start(startedAt)
      decision.start(startedAt)
      if (await Promise.race([decision.whenAgreed().then(() => true), sleep(withinMs).then(() => false)])) ok++
      decision.stop()
    }),
  )
  return ok
}

t.test('the lag deadline ends the wait even when its timer fires early (no traffic observer)', async (t) => {
  const runs = 40
  const ok = await decided(
    runs,
    () => {
      const lag = new LagClock(30, false)
      return { lag, decision: new Decision({ observers: [content('elbv2')], lagClock: lag, minWaitMs: 0, logger: silent }) }
    },
    1_500,
  )
  t.equal(ok, runs, `${ok} of ${runs} decided after the 30 ms lag bound`)
})

t.test('--min-wait ends the wait even when its timer fires early', async (t) => {
  const runs = 40
  const ok = await decided(
    runs,
    () => {
      const lag = new LagClock(0, false)
      return { lag, decision: new Decision({ observers: [content('traffic')], lagClock: lag, minWaitMs: 30, logger: silent }) }
    },
    1_500,
  )
  t.equal(ok, runs, `${ok} of ${runs} decided after the 30 ms --min-wait`)
})
