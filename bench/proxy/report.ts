// The human-readable part of the output: the per-cell table and the goal verdicts.
import type { PathId } from './targets.js'

export interface CellSummary {
  path: PathId
  label: string
  header: boolean
  keepAlive: boolean
  /** Median over rounds. */
  rps: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  /** CPU seconds of the proxy process (the app's, for direct) per 10k requests, over all rounds. */
  cpuSPer10k: number
  /** Share of that CPU time spent in the kernel (system time). */
  sysShare: number
  /** CPU seconds per wall second: 1.0 = one core saturated. */
  cpuUtil: number
  /** Largest RSS seen at the end of a run. */
  rssMiB: number
  /** Connection errors + timeouts + non-2xx, over all rounds. */
  errors: number
  runs: number
}

export interface Goal {
  name: string
  value: number
  unit: string
  met: boolean
  detail: string
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function renderCells(cells: CellSummary[]): string {
  const head = [
    'path',
    'load',
    'req/s',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'CPU s/10k req',
    'user µs/req',
    'kernel µs/req',
    'CPU %',
    'RSS MiB',
    'errors',
  ]
  const rows = cells.map((c) => [
    c.label + (c.path === 'direct' || c.path === 'direct-h2c' ? ' (CPU: app)' : ''),
    `${c.header ? 'PROXY v2' : 'plain'}, ${c.keepAlive ? 'keep-alive' : 'conn/req'}`,
    Math.round(c.rps).toString(),
    c.p50Ms.toFixed(2),
    c.p99Ms.toFixed(2),
    c.p999Ms.toFixed(2),
    c.cpuSPer10k.toFixed(3),
    (c.cpuSPer10k * (1 - c.sysShare) * 100).toFixed(1),
    (c.cpuSPer10k * c.sysShare * 100).toFixed(1),
    (c.cpuUtil * 100).toFixed(0),
    c.rssMiB.toFixed(1),
    String(c.errors),
  ])
  return table(head, rows)
}

export function renderGoals(goals: Goal[]): string {
  return goals
    .map(
      (g) =>
        `  [${g.met ? 'met' : 'MISSED'}] ${g.name}: ${g.unit === '×' ? `${g.value.toFixed(2)}×` : `${g.value.toFixed(2)} ${g.unit}`}${g.detail ? ` — ${g.detail}` : ''}`,
    )
    .join('\n')
}
