// The matrix as a table (regime × strategy), per-regime verdicts, and the --json line.
import type { MatrixRow } from './run.js'

export function renderMatrix(rows: MatrixRow[]): string {
  const head = [
    'regime',
    'strategy',
    'requests',
    'failed (seeds)',
    'pod life p50/max s',
    'exit − last LB conn min/p50/max s',
    'expected to fail',
  ]
  const body = rows.map((r) => [
    r.regime,
    r.strategy,
    String(r.requests),
    r.failed === 0 ? `0 (0/${r.seeds})` : `${r.failed} (${r.seedsWithFailures}/${r.seeds})`,
    `${fmt(r.podLifeSeconds.p50)} / ${fmt(r.podLifeSeconds.max)}`,
    `${fmt(r.exitAfterLastLbConnectionSeconds.min)} / ${fmt(r.exitAfterLastLbConnectionSeconds.p50)} / ${fmt(r.exitAfterLastLbConnectionSeconds.max)}`,
    `${r.expectedToFail ? 'yes' : 'no'}${r.incomplete > 0 ? `  ${r.incomplete} incomplete` : ''}${r.maxStallMs > 500 ? `  stall ${r.maxStallMs} ms` : ''}`,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

/** One line per regime: who lost traffic, and drainpipe against the shortest sleep that lost nothing. */
export function verdicts(rows: MatrixRow[]): string[] {
  const regimes = [...new Set(rows.map((r) => r.regime))]
  return regimes.map((regime) => {
    const rs = rows.filter((r) => r.regime === regime)
    const lost = rs.filter((r) => r.failed > 0).map((r) => `${r.strategy} ${r.failed} in ${r.seedsWithFailures}/${r.seeds} seeds`)
    const safeSleeps = rs
      .filter((r) => r.strategy.startsWith('sleep-') && r.failed === 0)
      .sort((a, b) => a.podLifeSeconds.p50 - b.podLifeSeconds.p50)
    const parts = [`${regime}: ${lost.length === 0 ? 'nothing lost' : `lost traffic: ${lost.join(', ')}`}`]
    for (const dp of rs.filter((r) => r.strategy.startsWith('drainpipe'))) {
      if (dp.failed > 0) {
        parts.push(`${dp.strategy} LOST ${dp.failed}${dp.expectedToFail ? ' (expected here)' : ''}`)
        continue
      }
      const sleep = safeSleeps[0]
      const sleepsRun = rs.some((r) => r.strategy.startsWith('sleep-'))
      parts.push(
        !sleepsRun
          ? `${dp.strategy} lost nothing (p50 life ${fmt(dp.podLifeSeconds.p50)} s)`
          : sleep === undefined
            ? `${dp.strategy} lost nothing (p50 life ${fmt(dp.podLifeSeconds.p50)} s; no sleep in the sweep was safe)`
            : `${dp.strategy} lost nothing, p50 life ${fmt(dp.podLifeSeconds.p50)} s vs ${sleep.strategy} (shortest zero-loss sleep) ${fmt(sleep.podLifeSeconds.p50)} s: ` +
              `${dp.podLifeSeconds.p50 <= sleep.podLifeSeconds.p50 ? `${fmt(sleep.podLifeSeconds.p50 - dp.podLifeSeconds.p50)} s faster` : `${fmt(dp.podLifeSeconds.p50 - sleep.podLifeSeconds.p50)} s slower`}`,
      )
    }
    const fast = rs.find((r) => r.strategy === 'drainpipe-fast-lane')
    for (const lane of rs.filter((r) => r.strategy === 'drainpipe' || r.strategy === 'drainpipe+elbv2')) {
      if (fast === undefined || fast.failed > 0 || lane.failed > 0 || lane.podLifeSeconds.p50 <= 0) continue
      parts.push(
        `fast lane vs ${lane.strategy}: p50 life ${fmt(fast.podLifeSeconds.p50)} s vs ${fmt(lane.podLifeSeconds.p50)} s, ratio ${fastLaneRatio(fast, lane).toFixed(2)}`,
      )
    }
    return parts.join('; ')
  })
}

/** drainpipe-fast-lane's p50 pod life after SIGTERM over another row's. */
export function fastLaneRatio(fast: MatrixRow, other: MatrixRow): number {
  return fast.podLifeSeconds.p50 / other.podLifeSeconds.p50
}

export function matrixJson(rows: MatrixRow[]): string {
  return JSON.stringify({
    scenarios: rows.map((r) => ({
      regime: r.regime,
      strategy: r.strategy,
      seeds: r.seeds,
      requests: r.requests,
      failed: r.failed,
      seedsWithFailures: r.seedsWithFailures,
      podLifeSeconds: { p50: r.podLifeSeconds.p50, max: r.podLifeSeconds.max },
      exitAfterLastLbConnectionSeconds: { p50: r.exitAfterLastLbConnectionSeconds.p50, max: r.exitAfterLastLbConnectionSeconds.max },
      expectedToFail: r.expectedToFail,
    })),
  })
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1)
}
