// The Decision (lifecycle/decision.ts) in-process, with small observers that say what the test
// tells them to: agreement must be simultaneous, --min-wait is a floor, the lag bound is needed
// without a traffic observer, and an agreement revoked while it settles is not final.
// Real timers: SETTLE_MS is 100 ms.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Decision, SETTLE_MS } from '../../src/lifecycle/decision.js'
import { LagClock } from '../../src/lifecycle/lag-clock.js'
import type { DeregistrationObserver, ObserverName } from '../../src/lifecycle/observers/observer.js'

/** An observer whose verdict the test sets; it announces every change, as the contract asks. */
class Told implements DeregistrationObserver {
  readonly name: ObserverName
  #satisfied = false
  readonly #fns: Array<() => void> = []
  constructor(name: ObserverName) {
    this.name = name
  }
  get satisfied(): boolean {
    return this.#satisfied
  }
  set(v: boolean, announce = true): void {
    this.#satisfied = v
    if (announce) for (const fn of this.#fns) fn()
  }
  onChange(fn: () => void): void {
    this.#fns.push(fn)
  }
  start(): void {}
  view(): Record<string, unknown> {
    return { satisfied: this.#satisfied }
  }
  summary(): Record<string, unknown> {
    return {}
  }
  stop(): void {}
}

interface Teardown {
  teardown(fn: () => unknown): void
}

function decide(t: Teardown, observers: Told[], opts: { minWaitMs?: number; lagMs?: number; waitForElbv2?: boolean } = {}) {
  const lagClock = new LagClock(opts.lagMs ?? 0, opts.waitForElbv2 ?? false)
  const logged: string[] = []
  const logger = {
    info(_o: object, msg?: string) {
      logged.push(msg ?? '')
    },
    warn() {},
    error() {},
    debug() {},
  }
  const decision = new Decision({ observers, lagClock, minWaitMs: opts.minWaitMs ?? 0, logger })
  t.teardown(() => decision.stop())
  let decidedAt: number | undefined
  void decision.whenAgreed().then(() => {
    decidedAt = performance.now()
  })
  const startedAt = performance.now()
  lagClock.start(startedAt) // as shutdown.ts does: the lag clock, then the observers, then the decision
  decision.start(startedAt)
  return { decision, lagClock, startedAt, logged, decidedAt: () => decidedAt }
}

t.test('agreement must be simultaneous: A satisfied, then not, then B satisfied → no decision', async (t) => {
  const a = new Told('traffic')
  const b = new Told('elbv2')
  const { decision, decidedAt } = decide(t, [a, b])
  a.set(true)
  await sleep(10)
  a.set(false)
  await sleep(10)
  b.set(true)
  await sleep(SETTLE_MS * 4)
  t.equal(decidedAt(), undefined, 'each was satisfied once, never both at once')
  t.same(decision.pending(), ['traffic'])
  const agreedAt = performance.now()
  a.set(true)
  await decision.whenAgreed()
  t.ok(decidedAt()! - agreedAt >= SETTLE_MS - 1, `decided ${(decidedAt()! - agreedAt).toFixed(0)} ms after both agreed: after the settle`)
  t.same(decision.pending(), [])
  t.equal(decision.revocations, 0)
})

t.test('--min-wait is a floor: agreement before it waits for it', async (t) => {
  const a = new Told('traffic')
  a.set(true)
  const { decision, startedAt, decidedAt } = decide(t, [a], { minWaitMs: 300 })
  t.same(decision.pending(), ['min-wait'])
  await decision.whenAgreed()
  t.ok(decidedAt()! - startedAt >= 300, `decided at ${(decidedAt()! - startedAt).toFixed(0)} ms, not before --min-wait`)
})

t.test('--min-wait is not an end: not agreed when it passes → still waiting', async (t) => {
  const a = new Told('traffic')
  const b = new Told('elbv2')
  b.set(true)
  const { decision, startedAt, decidedAt } = decide(t, [a, b], { minWaitMs: 150 })
  await sleep(150 + SETTLE_MS * 3)
  t.equal(decidedAt(), undefined, 'min-wait passed, traffic not satisfied: no decision')
  t.same(decision.pending(), ['traffic'])
  a.set(true)
  await decision.whenAgreed()
  t.ok(decidedAt()! - startedAt >= 150 + SETTLE_MS * 3)
})

t.test('without a traffic observer the lag bound must pass too', async (t) => {
  const b = new Told('elbv2')
  b.set(true)
  const { decision, startedAt, decidedAt } = decide(t, [b], { lagMs: 300 })
  t.same(decision.pending(), ['lag-bound'])
  await decision.whenAgreed()
  t.ok(decidedAt()! - startedAt >= 300, `decided at ${(decidedAt()! - startedAt).toFixed(0)} ms: after the lag bound of 300 ms`)
})

t.test('without a traffic observer and deregistration unknown: waits until elbv2 tells, then the lag', async (t) => {
  const b = new Told('elbv2')
  const h = new Told('healthcheck')
  h.set(true)
  const { decision, lagClock, decidedAt } = decide(t, [b, h], { lagMs: 200, waitForElbv2: true })
  await sleep(400)
  t.equal(decidedAt(), undefined)
  t.same(decision.pending(), ['elbv2', 'lag-bound'])
  const toldAt = performance.now()
  lagClock.deregistered(toldAt, false)
  b.set(true)
  t.same(decision.pending(), ['lag-bound'])
  await decision.whenAgreed()
  t.ok(decidedAt()! - toldAt >= 200, `decided ${(decidedAt()! - toldAt).toFixed(0)} ms after deregistration: after the lag`)
})

t.test("with a traffic observer the lag bound is the traffic observer's business", async (t) => {
  const a = new Told('traffic')
  a.set(true)
  const { decision, startedAt, decidedAt } = decide(t, [a], { lagMs: 60_000 })
  await decision.whenAgreed()
  t.ok(decidedAt()! - startedAt < 60_000)
  t.same(decision.pending(), [])
})

t.test('an agreement revoked during the settle is not final; the decision proceeds when the revocation passes', async (t) => {
  const a = new Told('traffic')
  const b = new Told('elbv2')
  b.set(true)
  const { decision, decidedAt, logged } = decide(t, [a, b])
  a.set(true) // agreement: settling starts at once
  a.set(false) // a new arrival, within the settle (same turn of the loop, so no stall can reorder them)
  await sleep(SETTLE_MS * 3)
  t.equal(decidedAt(), undefined, 'revoked before it was final')
  t.equal(decision.revocations, 1)
  t.ok(logged.includes('agreement revoked before it was final: new activity'))
  const backAt = performance.now()
  a.set(true)
  await decision.whenAgreed()
  t.ok(decidedAt()! - backAt >= SETTLE_MS - 1, 'decided a settle after the agreement came back')
  t.equal(decision.revocations, 1)
})

t.test('a revocation that passes without a change being announced is looked at again', async (t) => {
  // What the re-look is for: a connection being classified holds the traffic verdict back for a
  // moment, and it may pass without the verdict changing.
  const a = new Told('traffic')
  const { decision, decidedAt } = decide(t, [a])
  a.set(true)
  await sleep(SETTLE_MS / 3)
  a.set(false, false)
  setTimeout(() => a.set(true, false), SETTLE_MS)
  await decision.whenAgreed()
  t.equal(decision.revocations, 1)
  t.ok(decidedAt() !== undefined)
})

t.test('stop() before agreement: never decides', async (t) => {
  const a = new Told('traffic')
  const { decision, decidedAt } = decide(t, [a], { minWaitMs: 50 })
  decision.stop()
  a.set(true)
  await sleep(SETTLE_MS * 3)
  t.equal(decidedAt(), undefined)
})

t.test('nothing is decided before start()', async (t) => {
  const a = new Told('traffic')
  const decision = new Decision({
    observers: [a],
    lagClock: new LagClock(0, false),
    minWaitMs: 0,
    logger: { info() {}, warn() {}, error() {}, debug() {} },
  })
  t.teardown(() => decision.stop())
  let decided = false
  void decision.whenAgreed().then(() => {
    decided = true
  })
  a.set(true)
  await sleep(SETTLE_MS * 3)
  t.equal(decided, false)
})
