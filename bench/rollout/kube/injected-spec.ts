// Pods from an injected spec: the lab runs a Deployment manifest through `drainpipe inject`'s own
// transform and derives everything a pod needs from what inject wrote — drainpipe's settings
// (its DRAINPIPE_* env, parsed with drainpipe's own config parser), the LB-facing port and the
// app's port, the app's preStop hook (httpGet with the admin token header), the readiness probes,
// terminationGracePeriodSeconds, native or classic sidecar — so what inject writes is what the
// lab proves.
//
// Translating a pod to the lab's loopback world, and only that: each pod has its own loopback
// address, so 0.0.0.0 and 127.0.0.1 in the spec (the pod's interfaces) become that address, and
// POD_IP (the downward API) too; the app container runs the lab's app on the port the spec gives
// it; the NLB nodes' source range is the lab's (127.0.100.0/24, the "VPC"); durations are scaled
// to the lab's clock from the spec's own values.
import { readFileSync } from 'node:fs'
import { parseConfig, type Config } from '../../../dist/config.js'
import { transform } from '../../../dist/inject/transform.js'
import { readInput } from '../../../dist/inject/yaml-io.js'
import { newToken } from '../../../dist/inject/token.js'

type Json = Record<string, unknown>

export interface HttpGetPlan {
  port: number
  path: string
  headers: Record<string, string>
}

export interface InjectedPlan {
  /** The workload and the file it came from. */
  workload: string
  /** drainpipe as a native sidecar (an init container with restartPolicy Always). */
  native: boolean
  /** terminationGracePeriodSeconds as inject set it. */
  gracePeriodSeconds: number
  /** drainpipe's container env as written (DRAINPIPE_* and POD_IP), before the lab's address translation. */
  env: Record<string, string>
  /** That env parsed by drainpipe's config parser. */
  config: Config
  lbPort: number
  appPort: number
  appContainer: string
  /** The app container's preStop hook. */
  appPreStop: HttpGetPlan | undefined
  /** drainpipe's own preStop hook (native sidecar: its only termination signal before SIGTERM). */
  drainpipePreStop: HttpGetPlan | undefined
  /** Every container's HTTP readiness probe. */
  readiness: Array<{ container: string; port: number; path: string }>
  /** What inject said on stderr. */
  notes: string[]
}

export class InjectedSpecError extends Error {
  readonly code = 'ERR_LAB_POD_SPEC'
}

/** Run `text` through inject and derive the pod plan from the first pod template it injected. */
export function planFromManifest(text: string, source: string, version = 'lab'): InjectedPlan {
  const input = readInput(text, source)
  const result = transform(
    input.docs,
    'inject',
    { given: new Map(), version, newToken },
    input.docs.map(() => source),
  )
  if (result.errors.length > 0)
    throw new InjectedSpecError(`${source}: inject refused it: ${result.errors.map((e) => e.message).join('; ')}`)
  for (const doc of result.docs) {
    const o = doc as Json
    const spec = (o?.kind === 'Pod' ? o.spec : ((o?.spec as Json | undefined)?.template as Json | undefined)?.spec) as Json | undefined
    if (spec === undefined) continue
    return planFromPodSpec(spec, `${String(o.kind)} ${String((o.metadata as Json | undefined)?.name ?? '?')} (${source})`, result.notes)
  }
  throw new InjectedSpecError(`${source}: no Pod or Deployment pod template in it`)
}

export function planFromFile(path: string): InjectedPlan {
  return planFromManifest(readFileSync(path, 'utf8'), path)
}

function planFromPodSpec(spec: Json, workload: string, notes: string[]): InjectedPlan {
  const containers = (spec.containers as Json[] | undefined) ?? []
  const inits = (spec.initContainers as Json[] | undefined) ?? []
  const all = [...inits, ...containers]
  const isDrainpipe = (c: Json): boolean => ((c.env as Json[] | undefined) ?? []).some((e) => e.name === 'DRAINPIPE_LISTEN')
  const dp = all.find(isDrainpipe)
  if (dp === undefined) throw new InjectedSpecError(`${workload}: no drainpipe container after inject`)
  const native = inits.includes(dp) && dp.restartPolicy === 'Always'
  const env: Record<string, string> = {}
  for (const e of (dp.env as Json[] | undefined) ?? []) {
    if (typeof e.value === 'string') env[String(e.name)] = e.value
    else if (((e.valueFrom as Json | undefined)?.fieldRef as Json | undefined)?.fieldPath === 'status.podIP')
      env[String(e.name)] = '$(POD_IP)'
  }
  const parsed = parseConfig([], env)
  if (parsed.kind !== 'config') throw new InjectedSpecError(`${workload}: drainpipe's env did not parse to a configuration`)
  const config = parsed.config
  // A named port: any container's port of that name (a numeric port reaches any container of the pod).
  const portOf = (ref: unknown, where: string): number => {
    if (typeof ref === 'number') return ref
    for (const c of all) for (const p of (c.ports as Json[] | undefined) ?? []) if (p.name === ref) return Number(p.containerPort)
    throw new InjectedSpecError(`${workload}: ${where}: no port named ${JSON.stringify(ref)}`)
  }
  const httpGet = (c: Json, hook: Json | undefined, where: string): HttpGetPlan | undefined => {
    const get = hook?.httpGet as Json | undefined
    if (get === undefined) return undefined
    const headers: Record<string, string> = {}
    for (const h of (get.httpHeaders as Json[] | undefined) ?? []) headers[String(h.name)] = String(h.value)
    return { port: portOf(get.port, `${String(c.name)} ${where}`), path: String(get.path ?? '/'), headers }
  }
  const app = containers.find(
    (c) => c !== dp && ((c.ports as Json[] | undefined) ?? []).some((p) => Number(p.containerPort) === config.upstream.port),
  )
  if (app === undefined) throw new InjectedSpecError(`${workload}: no container has drainpipe's upstream port ${config.upstream.port}`)
  const preStopOf = (c: Json): Json | undefined => ((c.lifecycle as Json | undefined)?.preStop as Json | undefined) ?? undefined
  const readiness = all.flatMap((c) => {
    const probe = httpGet(c, c.readinessProbe as Json | undefined, 'readinessProbe')
    return probe === undefined ? [] : [{ container: String(c.name), port: probe.port, path: probe.path }]
  })
  return {
    workload,
    native,
    gracePeriodSeconds: Number(spec.terminationGracePeriodSeconds ?? 30),
    env,
    config,
    lbPort: config.listen.port,
    appPort: config.upstream.port,
    appContainer: String(app.name),
    appPreStop: httpGet(app, preStopOf(app), 'preStop'),
    drainpipePreStop: httpGet(dp, preStopOf(dp), 'preStop'),
    readiness,
    notes,
  }
}

/** drainpipe's env in a pod at `ip`: the pod's own addresses become `ip`. */
export function envAt(plan: InjectedPlan, ip: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(plan.env))
    out[k] = v === '$(POD_IP)' ? ip : v.replace(/^(?:0\.0\.0\.0|127\.0\.0\.1|localhost)(?=:\d+$)/, ip).replaceAll('$(POD_IP)', ip)
  return out
}
