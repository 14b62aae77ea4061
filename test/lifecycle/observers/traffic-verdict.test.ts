// judge(): the traffic observer's verdict as a pure function, table-tested. Times are plain ms;
// termination starts at 1000.
import t from 'tap'
import { judge, type Judged, type SourceActivity } from '../../../src/lifecycle/observers/traffic-verdict.js'
import type { SourceWindow } from '../../../src/lifecycle/quiet-period.js'

const START = 1_000
const AFTER_DEADLINE = 800
const INF = Number.POSITIVE_INFINITY

const evidence = (windowMs: number): SourceWindow => ({
  basis: 'evidence',
  windowMs,
  requiredMs: windowMs,
  sampleSize: 100,
  sampleSpanMs: 60_000,
  falseStopBound: 1e-7,
})
const fixed = (windowMs: number): SourceWindow => ({ basis: 'fixed', windowMs, sampleSize: 10, sampleSpanMs: 60_000 })
const sparse: SourceWindow = {
  basis: 'lag-bound',
  why: 'too few arrivals: the window needed exceeds --quiet-period-max',
  sampleSize: 2,
  sampleSpanMs: 60_000,
  requiredMs: 400_000,
}

const act = (lastActivityAt: number, pending = 0): SourceActivity => ({ lastActivityAt, pending })
const NONE = act(Number.NaN)

interface Row {
  name: string
  windows: Record<string, SourceWindow>
  pooled?: boolean
  activity: Record<string, SourceActivity>
  now: number
  deadline?: number
  quiet: boolean
  basis: 'evidence' | 'fixed' | 'lag-bound'
  nextAt: number
  /** Each judged source, in order: [name, quietAt, quiet]. */
  sources: Array<[string, number, boolean]>
}

const rows: Row[] = [
  // --- a source with evidence
  {
    name: 'evidence: last arrival before start, half a window in: not quiet',
    windows: { a: evidence(500) },
    activity: { a: act(900) },
    now: 1_250,
    quiet: false,
    basis: 'evidence',
    nextAt: 1_500,
    sources: [['a', 1_500, false]],
  },
  {
    name: 'evidence: a window after start: quiet',
    windows: { a: evidence(500) },
    activity: { a: act(900) },
    now: 1_500,
    quiet: true,
    basis: 'evidence',
    nextAt: 1_500,
    sources: [['a', 1_500, true]],
  },
  {
    name: 'evidence: never sent since the history (NaN activity): from start',
    windows: { a: evidence(500) },
    activity: {},
    now: 1_500,
    quiet: true,
    basis: 'evidence',
    nextAt: 1_500,
    sources: [['a', 1_500, true]],
  },
  {
    name: 'evidence: quiet at 1600, then an arrival at 1650 revokes it',
    windows: { a: evidence(500) },
    activity: { a: act(1_650) },
    now: 1_700,
    quiet: false,
    basis: 'evidence',
    nextAt: 2_150,
    sources: [['a', 2_150, false]],
  },
  {
    name: 'evidence: after the revoking arrival, a whole window again',
    windows: { a: evidence(500) },
    activity: { a: act(1_650) },
    now: 2_150,
    quiet: true,
    basis: 'evidence',
    nextAt: 2_150,
    sources: [['a', 2_150, true]],
  },
  {
    name: 'evidence: a request on an open connection is activity like an arrival',
    windows: { a: evidence(500) },
    activity: { a: act(2_000) },
    now: 2_400,
    quiet: false,
    basis: 'evidence',
    nextAt: 2_500,
    sources: [['a', 2_500, false]],
  },
  {
    name: 'pending: a connection accepted at 1300 and not classified counts from its accept time',
    windows: { a: evidence(500) },
    activity: { a: act(1_300, 1) },
    now: 1_700,
    quiet: false,
    basis: 'evidence',
    nextAt: 1_800,
    sources: [['a', 1_800, false]],
  },
  {
    name: 'pending: a window after the accept, still pending: quiet (accepted connections are served)',
    windows: { a: evidence(500) },
    activity: { a: act(1_300, 1) },
    now: 1_800,
    quiet: true,
    basis: 'evidence',
    nextAt: 1_800,
    sources: [['a', 1_800, true]],
  },
  {
    name: 'fixed window',
    windows: { a: fixed(300) },
    activity: { a: act(1_100) },
    now: 1_400,
    quiet: true,
    basis: 'fixed',
    nextAt: 1_400,
    sources: [['a', 1_400, true]],
  },

  // --- a source without evidence: the lag bound
  {
    name: 'lag-bound: deregistration not known yet (∞)',
    windows: { a: sparse },
    activity: { a: act(900) },
    now: 1_000_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: INF,
    sources: [['a', INF, false]],
  },
  {
    name: 'lag-bound: before the deadline',
    windows: { a: sparse },
    activity: { a: act(900) },
    now: 4_999,
    deadline: 5_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: 5_000,
    sources: [['a', 5_000, false]],
  },
  {
    name: 'lag-bound: at the deadline',
    windows: { a: sparse },
    activity: { a: act(900) },
    now: 5_000,
    deadline: 5_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 5_000,
    sources: [['a', 5_000, true]],
  },
  {
    name: 'lag-bound: activity before the deadline does not move it',
    windows: { a: sparse },
    activity: { a: act(4_900) },
    now: 5_000,
    deadline: 5_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 5_000,
    sources: [['a', 5_000, true]],
  },
  {
    name: 'lag-bound: activity after the deadline needs a whole window after it',
    windows: { a: sparse },
    activity: { a: act(5_200) },
    now: 5_999,
    deadline: 5_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: 6_000,
    sources: [['a', 6_000, false]],
  },
  {
    name: 'lag-bound: … and is quiet once it passed',
    windows: { a: sparse },
    activity: { a: act(5_200) },
    now: 6_000,
    deadline: 5_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 6_000,
    sources: [['a', 6_000, true]],
  },
  {
    name: 'lag-bound: activity exactly at the deadline counts as after it',
    windows: { a: sparse },
    activity: { a: act(5_000) },
    now: 5_500,
    deadline: 5_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: 5_800,
    sources: [['a', 5_800, false]],
  },
  {
    name: 'lag-bound: a deadline before start (lag 0) is start',
    windows: { a: sparse },
    activity: {},
    now: 1_000,
    deadline: 400,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 1_000,
    sources: [['a', 1_000, true]],
  },

  // --- sources seen only after termination began
  {
    name: 'late source: first seen after start is judged by the lag bound',
    windows: { a: evidence(500) },
    activity: { a: act(900), b: act(1_200) },
    now: 2_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: INF,
    sources: [
      ['a', 1_500, true],
      ['b', INF, false],
    ],
  },
  {
    name: 'late source: quiet at the deadline',
    windows: { a: evidence(500) },
    activity: { a: act(900), b: act(1_200) },
    now: 9_000,
    deadline: 9_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 9_000,
    sources: [
      ['a', 1_500, true],
      ['b', 9_000, true],
    ],
  },
  {
    name: 'late source: a connection from it still being classified counts',
    windows: { a: evidence(500) },
    activity: { a: act(900), b: act(Number.NaN, 1) },
    now: 2_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: INF,
    sources: [
      ['a', 1_500, true],
      ['b', INF, false],
    ],
  },
  {
    name: 'a source active only before the history span (no window, nothing since) is not judged',
    windows: { a: evidence(500) },
    activity: { a: act(900), old: act(100) },
    now: 1_500,
    quiet: true,
    basis: 'evidence',
    nextAt: 1_500,
    sources: [['a', 1_500, true]],
  },

  // --- per-source: every node quiet by its own window
  {
    name: 'two nodes: one quiet, the other not: not quiet',
    windows: { a: evidence(500), b: evidence(2_000) },
    activity: { a: act(900), b: act(900) },
    now: 2_000,
    quiet: false,
    basis: 'evidence',
    nextAt: 3_000,
    sources: [
      ['a', 1_500, true],
      ['b', 3_000, false],
    ],
  },
  {
    name: 'two nodes: both quiet',
    windows: { a: evidence(500), b: evidence(2_000) },
    activity: { a: act(900), b: act(900) },
    now: 3_000,
    quiet: true,
    basis: 'evidence',
    nextAt: 3_000,
    sources: [
      ['a', 1_500, true],
      ['b', 3_000, true],
    ],
  },
  {
    name: 'two nodes: the sparse one makes the basis lag-bound',
    windows: { a: evidence(500), b: sparse },
    activity: { a: act(900) },
    now: 3_000,
    deadline: 3_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 3_000,
    sources: [
      ['a', 1_500, true],
      ['b', 3_000, true],
    ],
  },
  {
    name: 'evidence and fixed: basis fixed',
    windows: { a: evidence(500), b: fixed(300) },
    activity: {},
    now: 1_500,
    quiet: true,
    basis: 'fixed',
    nextAt: 1_500,
    sources: [
      ['a', 1_500, true],
      ['b', 1_300, true],
    ],
  },

  // --- pooled
  {
    name: 'pooled: one source over every peer',
    pooled: true,
    windows: { '(all peers)': evidence(500) },
    activity: { '(all peers)': act(1_200) },
    now: 1_600,
    quiet: false,
    basis: 'evidence',
    nextAt: 1_700,
    sources: [['(all peers)', 1_700, false]],
  },
  {
    name: 'pooled: peers are not added as late sources',
    pooled: true,
    windows: { '(all peers)': evidence(500) },
    activity: { '(all peers)': act(900), '10.9.9.9': act(1_200) },
    now: 1_500,
    quiet: true,
    basis: 'evidence',
    nextAt: 1_500,
    sources: [['(all peers)', 1_500, true]],
  },

  // --- nothing at all
  {
    name: 'no sources: no traffic is no evidence; waits for deregistration (∞)',
    windows: {},
    activity: {},
    now: 100_000,
    quiet: false,
    basis: 'lag-bound',
    nextAt: INF,
    sources: [['(no traffic)', INF, false]],
  },
  {
    name: 'no sources: quiet at the lag deadline',
    windows: {},
    activity: {},
    now: 7_000,
    deadline: 7_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 7_000,
    sources: [['(no traffic)', 7_000, true]],
  },
  {
    name: 'no sources, then a first arrival after start: that source waits for the deadline',
    windows: {},
    activity: { a: act(2_000) },
    now: 7_000,
    deadline: 7_000,
    quiet: true,
    basis: 'lag-bound',
    nextAt: 7_000,
    sources: [['a', 7_000, true]],
  },
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const judged: Judged = { pooled: row.pooled ?? false, why: 'test', spanMs: 60_000, windows: new Map(Object.entries(row.windows)) }
    const v = judge(judged, new Map(Object.entries(row.activity)), row.now, START, row.deadline, AFTER_DEADLINE)
    t.equal(v.quiet, row.quiet, 'quiet')
    t.equal(v.basis, row.basis, 'basis')
    t.equal(v.nextAt, row.nextAt, 'nextAt')
    t.same(
      v.sources.map((s) => [s.source, s.quietAt, s.quiet]),
      row.sources,
      'per source: quietAt, quiet',
    )
  })
}

t.test("the verdict reports each source's window, activity and pending count as given", async (t) => {
  const w = evidence(500)
  const judged: Judged = { pooled: false, why: 'test', spanMs: 60_000, windows: new Map([['a', w]]) }
  const v = judge(judged, new Map([['a', act(1_300, 2)]]), 1_400, START, undefined, AFTER_DEADLINE)
  t.same(v.sources, [{ source: 'a', window: w, lastActivityAt: 1_300, pending: 2, quiet: false, quietAt: 1_800 }])
})
