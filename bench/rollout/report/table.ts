// The per-strategy table, as plain text.
import type { RequestCounts } from '../load/load.js'

export interface TableRow extends Omit<RequestCounts, 'ok'> {
  name: string
  ok?: number
  p50Ms: number
  p99Ms: number
  rolloutSeconds: number
  meanSecondsAfterTermination?: number
  /** Per old pod: its exit minus the LB's last new connection to it (below 0: the LB sent to a pod already gone). */
  exitAfterLastLbConnectionSeconds?: number[]
  elbv2Calls?: number
  elbv2Throttled?: number
}

export function renderTable(rows: TableRow[], opts: { secondsUnit?: string } = {}): string {
  const unit = opts.secondsUnit ?? 's'
  const head = ['strategy', 'requests', 'failed', 'non-2xx', 'resets', 'timeouts', 'p50 ms', 'p99 ms', `rollout ${unit}`]
  const withLife = rows.some((r) => r.meanSecondsAfterTermination !== undefined)
  const withApi = rows.some((r) => r.elbv2Calls !== undefined)
  const withExit = rows.some((r) => r.exitAfterLastLbConnectionSeconds !== undefined)
  if (withLife) head.push(`pod life after SIGTERM ${unit}`)
  if (withExit) head.push(`exit − last LB conn, min ${unit}`)
  if (withApi) head.push('elbv2 calls (throttled)')
  const body = rows.map((r) => {
    const cells = [
      r.name,
      String(r.requests),
      failedCell(r),
      String(r.non2xx),
      String(r.resets),
      String(r.timeouts),
      fmt(r.p50Ms),
      fmt(r.p99Ms),
      fmt(r.rolloutSeconds),
    ]
    if (withLife) cells.push(r.meanSecondsAfterTermination === undefined ? '-' : fmt(r.meanSecondsAfterTermination))
    if (withExit)
      cells.push(
        r.exitAfterLastLbConnectionSeconds === undefined || r.exitAfterLastLbConnectionSeconds.length === 0
          ? '-'
          : fmt(Math.min(...r.exitAfterLastLbConnectionSeconds)),
      )
    if (withApi) cells.push(r.elbv2Calls === undefined ? '-' : `${r.elbv2Calls} (${r.elbv2Throttled ?? 0})`)
    return cells
  })
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

function failedCell(r: TableRow): string {
  const pct = r.requests === 0 ? 0 : (100 * r.failed) / r.requests
  return r.failed === 0 ? '0' : `${r.failed} (${pct < 0.1 ? pct.toFixed(2) : pct.toFixed(1)}%)`
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1)
}
