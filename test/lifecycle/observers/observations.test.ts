// TrafficObservations: the arrival ring, rate samples, per-source records and the health-check
// interval learning the observers read.
import t from 'tap'
import { TrafficObservations, OVERFLOW_SOURCE, HEALTH_CHECK_GAPS_KEPT } from '../../../src/lifecycle/observations.js'

t.test('counts arrivals in a window and remembers the last one overall and per source', async (t) => {
  const obs = new TrafficObservations({ since: 0 })
  t.equal(obs.lastArrivalAt, undefined)
  obs.clientArrived('10.0.1.5', 100)
  obs.clientArrived('10.0.2.7', 200)
  obs.clientArrived('10.0.1.5', 300)
  t.equal(obs.totalArrivals, 3)
  t.equal(obs.lastArrivalAt, 300)
  t.equal(obs.arrivalsBetween(100, 300), 2, 'from is exclusive, to inclusive')
  t.equal(obs.arrivalsBetween(0, 1000), 3)
  const sources = Object.fromEntries([...obs.arrivalSources()].map((s) => [s.source, { count: s.count, firstAt: s.firstAt, lastAt: s.lastAt }]))
  t.same(sources, { '10.0.1.5': { count: 2, firstAt: 100, lastAt: 300 }, '10.0.2.7': { count: 1, firstAt: 200, lastAt: 200 } })
})

t.test('sampleBefore: history window, observation start, and arrivals after the point ignored', async (t) => {
  const obs = new TrafficObservations({ historyMs: 10_000, since: 5_000 })
  for (let at = 5_500; at < 30_000; at += 1_000) obs.clientArrived('lb', at) // 5.5 s, 6.5 s, … 29.5 s
  // Window (20 s, 30 s]: 10 arrivals over 10 s.
  t.same(obs.sampleBefore(30_000), { count: 10, spanMs: 10_000, truncated: false })
  // Terminating 3 s after observation began: the span is 3 s, not the history window.
  t.same(obs.sampleBefore(8_000), { count: 3, spanMs: 3_000, truncated: false })
  // Arrivals after the point do not count.
  t.same(obs.sampleBefore(12_000), { count: 7, spanMs: 7_000, truncated: false })
})

t.test('ring overflow: the span shrinks to what the ring still holds', async (t) => {
  const obs = new TrafficObservations({ historyMs: 60_000, since: 0, arrivalCapacity: 16 })
  for (let i = 0; i < 100; i++) obs.clientArrived('lb', 50_000 + i * 10) // 100 arrivals 10 ms apart
  const s = obs.sampleBefore(51_000)
  t.equal(s.count, 16)
  t.equal(s.truncated, true)
  t.equal(s.spanMs, 51_000 - (50_000 + 84 * 10), 'from the oldest held arrival to the point')
  t.equal(obs.totalArrivals, 100)
  t.equal(obs.arrivalsBetween(0, 60_000), 16, 'only the ring is counted')
})

t.test('sources beyond maxSources fold into one overflow record', async (t) => {
  const obs = new TrafficObservations({ maxSources: 3 })
  for (let i = 0; i < 10; i++) obs.clientArrived(`192.0.2.${i}`, i)
  const names = [...obs.arrivalSources()].map((s) => s.source)
  t.same(names, ['192.0.2.0', '192.0.2.1', '192.0.2.2', OVERFLOW_SOURCE])
  t.equal([...obs.arrivalSources()].find((s) => s.source === OVERFLOW_SOURCE)?.count, 7)
  t.equal(obs.totalArrivals, 10)
  for (let i = 0; i < 10; i++) obs.healthCheckSeen(`10.0.0.${i}`, 'empty', i)
  t.equal(obs.healthCheckSourceCount, 4)
})

t.test('health checks: per-source counts by kind and the median gap of the last 8', async (t) => {
  const obs = new TrafficObservations()
  t.equal(obs.lastHealthCheckAt, undefined)
  // Source A probes every 10 s, with one 40 s outlier; B sends LOCAL headers every 5 s.
  const a = [0, 10_000, 20_000, 60_000, 70_000, 80_000]
  for (const at of a) obs.healthCheckSeen('10.0.1.10', 'empty', at)
  for (let at = 1_000; at <= 21_000; at += 5_000) obs.healthCheckSeen('10.0.2.10', 'local', at)
  const [srcA, srcB] = [...obs.healthCheckSources()]
  t.equal(srcA!.count, 6)
  t.equal(srcA!.empty, 6)
  t.equal(srcA!.local, 0)
  t.equal(srcA!.gapCount, 5)
  t.equal(srcA!.medianGapMs(), 10_000, 'median ignores the outlier')
  t.equal(srcA!.medianGapMs(6), undefined, 'too few gaps')
  t.equal(srcB!.local, 5)
  t.equal(srcB!.medianGapMs(3), 5_000)
  t.equal(obs.lastHealthCheckAt, 80_000)
  // Only the last HEALTH_CHECK_GAPS_KEPT gaps count: the rhythm changes to 2 s.
  let at = 80_000
  for (let i = 0; i < HEALTH_CHECK_GAPS_KEPT; i++) obs.healthCheckSeen('10.0.1.10', 'empty', at += 2_000)
  t.equal(srcA!.medianGapMs(), 2_000)
})

t.test('bad options are refused with a code', async (t) => {
  t.throws(() => new TrafficObservations({ historyMs: 0 }), { code: 'ERR_OBSERVATIONS_OPTION' })
  t.throws(() => new TrafficObservations({ arrivalCapacity: 1 }), { code: 'ERR_OBSERVATIONS_OPTION' })
  t.throws(() => new TrafficObservations({ maxSources: 0 }), { code: 'ERR_OBSERVATIONS_OPTION' })
})

t.test('the hot-path writes do not allocate', async (t) => {
  // Write 2 × 200k times and compare heapUsed before and after. Allocation-free writes leave it
  // unchanged and trigger no GC; an allocation per write (≥ 16 bytes) would add ≥ 6 MB or force
  // scavenges. An unrelated GC can land in a round, so up to 5 rounds, one clean round passes.
  // Timestamps are whole milliseconds here: a fractional `now` is a heap number the *caller*
  // boxes to pass it (performance.now() returns one anyway), which would hide what we measure.
  const { PerformanceObserver } = await import('node:perf_hooks')
  const obs = new TrafficObservations()
  const sources = ['10.0.1.10', '10.0.2.10', '10.0.3.10']
  const N = 200_000
  const run = (base: number) => {
    for (let i = 0; i < N; i++) {
      const now = base + i
      obs.clientArrived(sources[i % 3]!, now)
      obs.healthCheckSeen(sources[i % 3]!, (i & 1) === 0 ? 'empty' : 'local', now)
    }
  }
  for (let i = 0; i < 5; i++) run(i * N) // warm up: let the JIT optimise the loop and the writes
  let gcs = 0
  const po = new PerformanceObserver((list) => { gcs += list.getEntries().length })
  po.observe({ entryTypes: ['gc'] })
  t.teardown(() => po.disconnect())
  const rounds: string[] = []
  let clean = false
  for (let round = 0; round < 5 && !clean; round++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    const gcsBefore = gcs
    const before = process.memoryUsage().heapUsed
    run((5 + round) * N)
    const grew = process.memoryUsage().heapUsed - before
    await new Promise((resolve) => setTimeout(resolve, 20)) // gc entries arrive asynchronously
    const roundGcs = gcs - gcsBefore
    rounds.push(`${roundGcs} GC, heap +${(grew / 1024).toFixed(0)} KiB`)
    clean = roundGcs === 0 && grew < 256 * 1024
  }
  t.ok(clean, `a round of ${2 * N} writes without GC or heap growth (${rounds.join('; ')})`)
  t.equal(obs.totalArrivals, 5 * N + rounds.length * N, 'all counted')
})
