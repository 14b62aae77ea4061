// The lab's table and SVG chart, from a hand-made timeline.
import t from 'tap'
import { Timeline } from '../../bench/rollout/load/timeline.js'
import { renderTable } from '../../bench/rollout/report/table.js'
import { renderChart } from '../../bench/rollout/report/chart.js'

t.test('table: one row per strategy, failed with its share, columns aligned', async (t) => {
  const text = renderTable([
    {
      name: 'none',
      requests: 1000,
      non2xx: 1,
      resets: 120,
      timeouts: 4,
      failed: 125,
      p50Ms: 8,
      p99Ms: 60.25,
      rolloutSeconds: 99.4,
      meanSecondsAfterTermination: 0.5,
      elbv2Calls: 21,
      elbv2Throttled: 0,
    },
    {
      name: 'drainpipe',
      requests: 990,
      non2xx: 0,
      resets: 0,
      timeouts: 0,
      failed: 0,
      p50Ms: 9,
      p99Ms: 70,
      rolloutSeconds: 262.2,
      meanSecondsAfterTermination: 161.8,
      elbv2Calls: 30,
      elbv2Throttled: 3,
    },
  ])
  const lines = text.split('\n')
  t.equal(lines.length, 4)
  t.match(
    lines[0],
    /^strategy\s+requests\s+failed\s+non-2xx\s+resets\s+timeouts\s+p50 ms\s+p99 ms\s+rollout s\s+pod life after SIGTERM s\s+elbv2 calls \(throttled\)$/,
  )
  t.match(lines[2], /^none\s+1000\s+125 \(12\.5%\)\s+1\s+120\s+4\s+8\s+60\.3\s+99\.4\s+0\.5\s+21 \(0\)$/)
  t.match(lines[3], /^drainpipe\s+990\s+0\s+0\s+0\s+0\s+9\s+70\s+262\.2\s+161\.8\s+30 \(3\)$/)
  t.equal(new Set(lines.map((l) => l.length)).size, 1, 'every line has the same width')
  const bare = renderTable([
    { name: 'rollout', requests: 10, non2xx: 0, resets: 0, timeouts: 0, failed: 0, p50Ms: 1, p99Ms: 2, rolloutSeconds: 3 },
  ])
  t.notMatch(bare, /pod life|elbv2/, 'columns without data are left out')
})

t.test('chart: a panel per strategy, a bar per second with failures, the healthy-targets line', async (t) => {
  const a = new Timeline()
  const b = new Timeline()
  const at = (tl: Timeline, s: number) => tl.start + s * 1000 + 10
  for (let s = 0; s < 5; s++) {
    a.count('ok', at(a, s))
    a.gauge('healthy', 3, at(a, s))
    b.count('ok', at(b, s))
    b.gauge('healthy', s < 2 ? 3 : 2, at(b, s))
  }
  a.count('resets', at(a, 2))
  a.count('timeouts', at(a, 2))
  a.count('non2xx', at(a, 3))
  a.mark('rollout', at(a, 1))
  const svg = renderChart(
    [
      { name: 'none', timeline: a, subtitle: '5 requests' },
      { name: 'drain<pipe>', timeline: b },
    ],
    'A & B',
  )
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /<\/svg>$/)
  t.match(svg, />A &amp; B</, 'text escaped')
  t.match(svg, />drain&lt;pipe&gt;</)
  const bars = svg.match(/<rect [^>]*fill="#e74c3c"><title>(\d+)s: (\d+) failed/g) ?? []
  t.equal(bars.length, 2, 'bars only for seconds with failures')
  t.match(svg, /<title>2s: 2 failed \(0 non-2xx, 1 resets, 1 timeouts\), 1 ok<\/title>/)
  t.equal((svg.match(/stroke="#2563eb"/g) ?? []).length, 2, 'one healthy-targets line per panel (no routable gauge sampled here)')
  t.match(svg, />rollout</, 'marks are labelled')
  a.gauge('routable', 4, at(a, 2))
  const withRoutable = renderChart([{ name: 'none', timeline: a }], 'x')
  t.match(
    withRoutable,
    /stroke-dasharray="6,3"><title>targets receiving new connections<\/title>/,
    'dashed line for targets still receiving new connections',
  )
  const opens = (svg.match(/<(rect|text|line|path|svg|title)\b/g) ?? []).length
  const closes = (svg.match(/<\/(rect|text|svg|path|title)>|\/>/g) ?? []).length
  t.equal(opens, closes, 'every element is closed')
})
