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
  const sources = Object.fromEntries(
    [...obs.arrivalSources()].map((s) => [s.source, { count: s.count, firstAt: s.firstAt, lastAt: s.lastAt }]),
  )
  t.same(sources, { '10.0.1.5': { count: 2, firstAt: 100, lastAt: 300 }, '10.0.2.7': { count: 1, firstAt: 200, lastAt: 200 } })
})

t.test('sampleBefore: history window, observation start, and arrivals after the point ignored', async (t) => {
  const obs = new TrafficObservations({ historyMs: 10_000, since: 5_000 })
  for (let at = 5_500; at < 30_000; at += 1_000) obs.clientArrived('lb', at) // 5.5 s, 6.5 s, … 29.5 s
  // Window (20 s, 30 s]: 10 arrivals over 10 s.
  t.same(obs.sampleBefore(30_000), { count: 10, spanMs: 10_000, truncated: false, bySource: new Map([['lb', 10]]) })
  // Terminating 3 s after observation began: the span is 3 s, not the history window.
  t.same(obs.sampleBefore(8_000), { count: 3, spanMs: 3_000, truncated: false, bySource: new Map([['lb', 3]]) })
  // Arrivals after the point do not count.
  t.same(obs.sampleBefore(12_000), { count: 7, spanMs: 7_000, truncated: false, bySource: new Map([['lb', 7]]) })
})

t.test("sampleBefore by source: each LB node's own count over the same span; silent nodes absent", async (t) => {
  const obs = new TrafficObservations({ historyMs: 10_000, since: 0 })
  obs.clientArrived('10.0.1.10', 1_000)
  obs.clientArrived('10.0.3.10', 2_000) // only before the window
  obs.clientArrived('10.0.2.10', 2_000)
  for (let at = 2_250; at <= 20_000; at += 250) obs.clientArrived(at % 1_000 === 0 ? '10.0.1.10' : '10.0.2.10', at) // 1/s and 3/s
  const s = obs.sampleBefore(20_000)
  t.equal(s.spanMs, 10_000)
  t.same(
    s.bySource,
    new Map([
      ['10.0.1.10', 10],
      ['10.0.2.10', 30],
    ]),
  )
  t.equal(s.count, 40, 'the total is the sum over sources')
  t.same(
    [...obs.arrivalSources()].map((r) => [r.source, r.id]),
    [
      ['10.0.1.10', 0],
      ['10.0.3.10', 1],
      ['10.0.2.10', 2],
    ],
    'ids in order of first sight',
  )
})

t.test('arrivals at accept: pending until classified; a client counts at its accept time, a health check is taken back out', async (t) => {
  const obs = new TrafficObservations({ since: 0 })
  const rec = obs.connectionAccepted('10.0.1.10', 1_000)
  t.equal(rec.pending, 1)
  t.equal(obs.pendingConnections, 1)
  t.equal(rec.lastAcceptedAt, 1_000)
  t.equal(obs.totalArrivals, 0, 'not an arrival yet')
  t.ok(Number.isNaN(rec.lastActivityAt), 'nor activity: the accept time is read through pending')
  const probe = obs.connectionAccepted('10.0.1.10', 1_100)
  t.equal(probe, rec, 'the same record')
  t.equal(rec.pending, 2)
  obs.connectionClassified(rec, 1_100, false) // a health check
  t.equal(rec.pending, 1)
  t.equal(obs.totalArrivals, 0)
  t.equal(rec.lastAcceptedAt, 1_100, 'the newest accept is kept')
  obs.connectionClassified(rec, 1_000, true) // classified later, counted at its accept time
  t.equal(obs.pendingConnections, 0)
  t.equal(obs.totalArrivals, 1)
  t.equal(rec.lastAt, 1_000)
  t.equal(rec.lastActivityAt, 1_000)
  t.equal(obs.lastArrivalAt, 1_000)
  t.same(obs.sampleBefore(2_000).bySource, new Map([['10.0.1.10', 1]]))
  // An older accept does not move the newest one back.
  obs.connectionAccepted('10.0.1.10', 900)
  t.equal(rec.lastAcceptedAt, 1_100)
})

t.test('requests on open connections are activity, not arrivals', async (t) => {
  const obs = new TrafficObservations({ since: 0 })
  obs.clientArrived('10.0.1.10', 1_000)
  obs.requestSeen('10.0.1.10', 5_000)
  const rec = obs.arrivalSource('10.0.1.10')!
  t.equal(rec.lastActivityAt, 5_000)
  t.equal(rec.lastAt, 1_000, 'the last arrival is unchanged')
  t.equal(obs.totalArrivals, 1)
  obs.requestSeen('10.0.1.10', 4_000)
  t.equal(rec.lastActivityAt, 5_000, 'never moves back')
  obs.requestSeen('10.9.9.9', 6_000) // no connection was ever accepted from it
  t.equal(obs.arrivalSource('10.9.9.9'), undefined, 'an unknown source creates no record')
})

t.test('the activity watch fires once, at the next accept, arrival or request', async (t) => {
  const obs = new TrafficObservations({ since: 0 })
  obs.clientArrived('10.0.1.10', 1)
  let fired = 0
  obs.watchActivity(() => {
    fired++
  })
  obs.healthCheckSeen('10.0.1.10', 'empty', 2)
  t.equal(fired, 0, 'a health check is not activity')
  obs.requestSeen('10.0.1.10', 3)
  t.equal(fired, 1)
  obs.requestSeen('10.0.1.10', 4)
  t.equal(fired, 1, 'once')
  obs.watchActivity(() => {
    fired++
  })
  obs.connectionAccepted('10.0.2.10', 5)
  t.equal(fired, 2, 'an accept fires it')
  obs.watchActivity(() => {
    fired++
  })
  obs.clientArrived('10.0.2.10', 6)
  t.equal(fired, 3, 'an arrival fires it')
  obs.watchActivity(() => {
    fired += 100
  })
  obs.watchActivity(() => {
    fired++
  })
  obs.clientArrived('10.0.2.10', 7)
  t.equal(fired, 4, 'a new watch replaces the previous one')
  obs.watchActivity(() => {
    fired++
  })
  obs.unwatchActivity()
  obs.clientArrived('10.0.2.10', 8)
  t.equal(fired, 4, 'unwatched')
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
  const obs = new TrafficObservations({ maxSources: 3, since: 0 })
  for (let i = 0; i < 10; i++) obs.clientArrived(`192.0.2.${i}`, i + 1)
  const names = [...obs.arrivalSources()].map((s) => s.source)
  t.same(names, ['192.0.2.0', '192.0.2.1', '192.0.2.2', OVERFLOW_SOURCE])
  t.equal([...obs.arrivalSources()].find((s) => s.source === OVERFLOW_SOURCE)?.count, 7)
  t.equal(obs.totalArrivals, 10)
  for (let i = 0; i < 10; i++) obs.healthCheckSeen(`10.0.0.${i}`, 'empty', i)
  t.equal(obs.healthCheckSourceCount, 4)
  t.same(
    obs.sampleBefore(10).bySource,
    new Map([
      ['192.0.2.0', 1],
      ['192.0.2.1', 1],
      ['192.0.2.2', 1],
      [OVERFLOW_SOURCE, 7],
    ]),
  )
  // A request on a connection from a folded source is activity of the record it was folded into
  // (the traffic observer pools then and reads that record: keep-alive traffic must not vanish).
  let fired = false
  obs.watchActivity(() => {
    fired = true
  })
  obs.requestSeen('192.0.2.9', 50)
  t.equal(obs.arrivalSource(OVERFLOW_SOURCE)!.lastActivityAt, 50)
  t.ok(fired, 'and it fires the activity watch')
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
  for (let i = 0; i < HEALTH_CHECK_GAPS_KEPT; i++) obs.healthCheckSeen('10.0.1.10', 'empty', (at += 2_000))
  t.equal(srcA!.medianGapMs(), 2_000)
})

t.test('bad options are refused with a code', async (t) => {
  t.throws(() => new TrafficObservations({ historyMs: 0 }), { code: 'ERR_OBSERVATIONS_OPTION' })
  t.throws(() => new TrafficObservations({ arrivalCapacity: 1 }), { code: 'ERR_OBSERVATIONS_OPTION' })
  t.throws(() => new TrafficObservations({ maxSources: 0 }), { code: 'ERR_OBSERVATIONS_OPTION' })
})

t.test('the hot-path writes do not allocate', async (t) => {
  // Write 4 × 200k times (accept, classify, request, health check) and compare heapUsed before and after. Allocation-free writes leave it
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
      const rec = obs.connectionAccepted(sources[i % 3]!, now)
      obs.connectionClassified(rec, now, true)
      obs.requestSeen(sources[i % 3]!, now)
      obs.healthCheckSeen(sources[i % 3]!, (i & 1) === 0 ? 'empty' : 'local', now)
    }
  }
  for (let i = 0; i < 5; i++) run(i * N) // warm up: let the JIT optimise the loop and the writes
  let gcs = 0
  const po = new PerformanceObserver((list) => {
    gcs += list.getEntries().length
  })
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
  t.ok(clean, `a round of ${4 * N} writes without GC or heap growth (${rounds.join('; ')})`)
  t.equal(obs.totalArrivals, 5 * N + rounds.length * N, 'all counted')
})
