// An SVG chart, one panel per strategy: failed requests per second (red bars, left axis),
// healthy targets (blue line, right axis) and, when sampled, targets the NLB still sends new
// connections to (dashed: healthy ones plus deregistered ones within the lag), with the
// rollout's marks.
import type { Timeline } from '../load/timeline.js'

export interface ChartSeries {
  name: string
  timeline: Timeline
  /** Text under the panel title (e.g. the result line). */
  subtitle?: string
}

const W = 900
const PANEL_H = 170
const M = { left: 60, right: 60, top: 34, bottom: 28 }

export function renderChart(series: ChartSeries[], title: string): string {
  const height = series.length * (PANEL_H + M.top + M.bottom) + 40
  const seconds = Math.max(1, ...series.map((s) => s.timeline.buckets.length))
  const maxErr = Math.max(1, ...series.flatMap((s) => s.timeline.buckets.map(errors)))
  const maxHealthy = Math.max(
    1,
    ...series.flatMap((s) => s.timeline.buckets.map((b) => Math.max(b.gauges.healthy ?? 0, b.gauges.routable ?? 0))),
  )
  const plotW = W - M.left - M.right
  const x = (sec: number): number => M.left + (sec / seconds) * plotW
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W - M.right}" y="38" text-anchor="end" fill="#444">red bars: failed requests/s · blue: healthy targets · dashed: targets receiving new connections</text>`,
  ]
  series.forEach((s, i) => {
    const top = 40 + i * (PANEL_H + M.top + M.bottom) + M.top
    const bottom = top + PANEL_H
    const yErr = (v: number): number => bottom - (v / maxErr) * PANEL_H
    const yHealthy = (v: number): number => bottom - (v / maxHealthy) * PANEL_H
    parts.push(`<text x="${M.left}" y="${top - 14}" font-size="13" font-weight="bold">${esc(s.name)}</text>`)
    if (s.subtitle !== undefined) parts.push(`<text x="${M.left + 150}" y="${top - 14}" fill="#444">${esc(s.subtitle)}</text>`)
    parts.push(`<rect x="${M.left}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#bbb"/>`)
    // axes labels
    for (const v of [0, maxErr / 2, maxErr])
      parts.push(`<text x="${M.left - 6}" y="${yErr(v) + 4}" text-anchor="end" fill="#c0392b">${Math.round(v)}</text>`)
    for (const v of [0, maxHealthy]) parts.push(`<text x="${W - M.right + 6}" y="${yHealthy(v) + 4}" fill="#2563eb">${v}</text>`)
    parts.push(
      `<text x="14" y="${(top + bottom) / 2}" transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle" fill="#c0392b">failed/s</text>`,
    )
    parts.push(
      `<text x="${W - 14}" y="${(top + bottom) / 2}" transform="rotate(90 ${W - 14} ${(top + bottom) / 2})" text-anchor="middle" fill="#2563eb">healthy targets</text>`,
    )
    const step = seconds > 60 ? 10 : 5
    for (let sec = 0; sec <= seconds; sec += step)
      parts.push(`<text x="${x(sec)}" y="${bottom + 14}" text-anchor="middle" fill="#666">${sec}s</text>`)
    // marks
    for (const mark of s.timeline.marks) {
      parts.push(`<line x1="${x(mark.at)}" x2="${x(mark.at)}" y1="${top}" y2="${bottom}" stroke="#888" stroke-dasharray="3,3"/>`)
      parts.push(`<text x="${x(mark.at) + 3}" y="${top + 11}" fill="#666">${esc(mark.label)}</text>`)
    }
    // error bars
    const bw = Math.max(1, plotW / seconds - 1)
    s.timeline.buckets.forEach((b, sec) => {
      const e = errors(b)
      if (e > 0)
        parts.push(
          `<rect x="${x(sec)}" y="${yErr(e)}" width="${bw}" height="${bottom - yErr(e)}" fill="#e74c3c"><title>${sec}s: ${e} failed (${b.non2xx} non-2xx, ${b.resets} resets, ${b.timeouts} timeouts), ${b.ok} ok</title></rect>`,
        )
    })
    // target lines (steps)
    for (const [gauge, dash] of [
      ['healthy', ''],
      ['routable', ' stroke-dasharray="6,3"'],
    ] as const) {
      let d = ''
      let last: number | undefined
      s.timeline.buckets.forEach((b, sec) => {
        const v = b.gauges[gauge] ?? last
        if (v === undefined) return
        d += d === '' ? `M${x(sec)},${yHealthy(v)}` : `L${x(sec)},${yHealthy(last ?? v)}L${x(sec)},${yHealthy(v)}`
        last = v
      })
      if (d !== '')
        parts.push(
          `<path d="${d}L${x(s.timeline.buckets.length)},${yHealthy(last ?? 0)}" fill="none" stroke="#2563eb" stroke-width="2"${dash}><title>${gauge === 'healthy' ? 'healthy registered targets' : 'targets receiving new connections'}</title></path>`,
        )
    }
  })
  parts.push('</svg>')
  return parts.join('\n')
}

function errors(b: { non2xx: number; resets: number; timeouts: number }): number {
  return b.non2xx + b.resets + b.timeouts
}

function esc(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c)
}
