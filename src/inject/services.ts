// Services in the same input. One that names its targetPort reaches drainpipe unchanged (drainpipe's
// port carries the name); one that targets the app's number is rewritten to drainpipe's number, and
// remembers the original in an annotation for uninject. Services inject cannot see are reported.
import type { JsonObject, JsonValue } from './json-patch.js'
import { STATE_ANNOTATIONS } from './options.js'
import { asObject, setAnnotation } from './pod-spec.js'
import type { Takeover } from './ports.js'

export interface TakenOver {
  what: string
  namespace: string | undefined
  labels: Record<string, string>
  takeover: Takeover
}

const servicePorts = (svc: JsonObject): JsonObject[] => {
  const ports = asObject(svc.spec)?.ports
  return Array.isArray(ports) ? (ports as JsonObject[]) : []
}

function selects(svc: JsonObject, pod: TakenOver): boolean {
  const ns = asObject(svc.metadata)?.namespace
  if ((typeof ns === 'string' ? ns : undefined) !== pod.namespace) return false
  const selector = asObject(asObject(svc.spec)?.selector)
  if (!selector || Object.keys(selector).length === 0) return false
  return Object.entries(selector).every(([k, v]) => pod.labels[k] === v)
}

/** Rewrites a Service's numeric targetPorts that reach a taken-over app port; returns the pods it selects. */
export function retargetService(svc: JsonObject, pods: readonly TakenOver[]): TakenOver[] {
  const hits = pods.filter((p) => selects(svc, p))
  if (hits.length === 0) return []
  const prior = asObject(asObject(svc.metadata)?.annotations)?.[STATE_ANNOTATIONS.targetPortWas]
  const was = (typeof prior === 'string' ? JSON.parse(prior) : {}) as Record<string, JsonValue>
  servicePorts(svc).forEach((port, i) => {
    const target = port.targetPort ?? port.port
    for (const { takeover } of hits) {
      if (target !== takeover.appPort) continue
      was[String(i)] = port.targetPort ?? null
      port.targetPort = takeover.listenPort
    }
  })
  if (Object.keys(was).length > 0) setAnnotation(svc, STATE_ANNOTATIONS.targetPortWas, JSON.stringify(was))
  return hits
}

/** uninject: puts back the targetPorts retargetService changed. */
export function restoreService(svc: JsonObject): void {
  const text = asObject(asObject(svc.metadata)?.annotations)?.[STATE_ANNOTATIONS.targetPortWas]
  if (typeof text !== 'string') return
  const was = JSON.parse(text) as Record<string, JsonValue>
  const ports = servicePorts(svc)
  for (const [i, target] of Object.entries(was)) {
    const port = ports[Number(i)]
    if (!port) continue
    if (target === null) delete port.targetPort
    else port.targetPort = target
  }
  setAnnotation(svc, STATE_ANNOTATIONS.targetPortWas, undefined)
}

/** The line telling what Services outside the input need. */
export function unseenServiceNote(p: TakenOver): string {
  const t = p.takeover
  return t.name !== undefined
    ? `${p.what}: Services not in this input that select these pods: targetPort "${t.name}" now reaches drainpipe unchanged; a numeric targetPort ${t.appPort} must become ${t.listenPort} (or "${t.name}")`
    : `${p.what}: Services not in this input that select these pods must change targetPort ${t.appPort} to ${t.listenPort} ("${t.listenName}")`
}
