// In-process inject/uninject over a file's text, as the CLI does it, with deterministic tokens so
// golden files are stable; and the checks every injected output must pass.
import { parseConfig, type Config } from '../../src/config.js'
import { asObject } from '../../src/inject/pod-spec.js'
import { transform, type Direction } from '../../src/inject/transform.js'
import { readInput } from '../../src/inject/yaml-io.js'
import { podTemplates, templateAt } from '../../src/inject/workloads.js'
import type { JsonValue } from '../../src/inject/json-patch.js'
import { schemaErrors, type K8sObject } from '../ship/k8s-schema.js'

export interface Run {
  text: string
  docs: JsonValue[]
  notes: string[]
  errors: string[]
}

export function tokens(prefix = 'tok'): () => string {
  let n = 0
  return () => `${prefix}-${String(++n).padStart(4, '0')}-0123456789abcdef0123456789`
}

export function run(
  text: string,
  source: string,
  direction: Direction = 'inject',
  opts: { given?: Map<string, string>; version?: string; newToken?: () => string } = {},
): Run {
  const input = readInput(text, source)
  const r = transform(
    input.docs,
    direction,
    { given: opts.given ?? new Map(), version: opts.version ?? '0.1.0', newToken: opts.newToken ?? tokens() },
    input.docs.map((_, i) => (input.docs.length > 1 ? `${source} #${i + 1}` : source)),
  )
  return { text: r.errors.length === 0 ? input.render(r.docs) : '', docs: r.docs, notes: r.notes, errors: r.errors.map((e) => e.message) }
}

/** Every object of the documents (List items too), for schema checks. */
export function objects(docs: readonly JsonValue[]): K8sObject[] {
  return docs.flatMap((d) => {
    const o = asObject(d)
    if (!o) return []
    return Array.isArray(o.items) ? (o.items as JsonValue[]).map((i) => i as unknown as K8sObject) : [o as unknown as K8sObject]
  })
}

export const schemaProblems = (docs: readonly JsonValue[], source: string): string[] =>
  schemaErrors(objects(docs).map((obj, i) => ({ source: `${source} #${i} ${obj.kind}`, obj })))

type C = {
  name: string
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>
  ports?: Array<{ name?: string; containerPort: number }>
  lifecycle?: any
  readinessProbe?: any
  restartPolicy?: string
}

export interface InjectedPod {
  what: string
  config: Config
  warnings: string[]
  grace: number
  drainpipe: C
  app: C
  native: boolean
}

/** drainpipe's configuration as the real parser reads it from each injected container's environment. */
export function injectedPods(docs: readonly JsonValue[]): InjectedPod[] {
  return docs.flatMap((doc) =>
    podTemplates(doc).flatMap((ref) => {
      const spec = templateAt(doc, ref).spec as any
      const init = (spec.initContainers ?? []) as C[]
      const all = [...init, ...(spec.containers as C[])]
      const drainpipe = all.find((c) => c.name === 'drainpipe')
      if (!drainpipe) return []
      const env: Record<string, string> = { POD_IP: '10.0.1.23' }
      for (const e of drainpipe.env ?? []) if (e.value !== undefined) env[e.name] = e.value
      const parsed = parseConfig([], env)
      if (parsed.kind !== 'config') throw new Error('expected a config')
      const upstreamPort = parsed.config.upstream.port
      const app = (spec.containers as C[]).find((c) => c.ports?.some((p) => p.containerPort === upstreamPort))!
      return [
        {
          what: `${ref.kind} ${ref.name}`,
          config: parsed.config,
          warnings: parsed.warnings,
          grace: spec.terminationGracePeriodSeconds,
          drainpipe,
          app,
          native: init.includes(drainpipe),
        },
      ]
    }),
  )
}
