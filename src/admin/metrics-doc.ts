// The README's metrics reference, generated from the registry itself.
import { createMetrics } from './metrics.js'

interface MetricShape {
  name: string
  help: string
  labelNames: readonly string[]
  constructor: { name: string }
}

export async function renderMetricsMarkdown(): Promise<string> {
  const metrics = createMetrics()
  const all = metrics.registry.getMetricsAsArray() as unknown as MetricShape[]
  const values = new Map<string, Map<string, Set<string>>>()
  for (const m of (await metrics.registry.getMetricsAsJSON()) as unknown as Array<{
    name: string
    values: Array<{ labels: Record<string, string | number> }>
  }>) {
    const byLabel = new Map<string, Set<string>>()
    for (const v of m.values)
      for (const [k, val] of Object.entries(v.labels)) (byLabel.get(k) ?? byLabel.set(k, new Set()).get(k)!).add(String(val))
    values.set(m.name, byLabel)
  }
  const rows = ['| metric | type | labels | meaning |', '| --- | --- | --- | --- |']
  for (const m of all) {
    if (!m.name.startsWith('drainpipe_') || m.name.startsWith('drainpipe_process_') || m.name.startsWith('drainpipe_nodejs_')) continue
    const labels = m.labelNames.map((l) => {
      if (l === 'port') return "`port`: the pod port's name (--port-name, --ports name=)"
      const known = values.get(m.name)?.get(l)
      return known && known.size > 0 ? `\`${l}\`: ${[...known].join(', ')}` : `\`${l}\``
    })
    rows.push(`| \`${m.name}\` | ${m.constructor.name.toLowerCase()} | ${labels.join('; ') || '–'} | ${m.help} |`)
  }
  rows.push(
    '',
    'Plus the Node.js process metrics of prom-client (`drainpipe_process_cpu_seconds_total`, `drainpipe_process_resident_memory_bytes`, `drainpipe_nodejs_eventloop_lag_seconds`, …).',
  )
  return rows.join('\n')
}
