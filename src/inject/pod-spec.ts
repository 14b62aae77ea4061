// The parts of a pod spec inject reads and writes. Everything else passes through untouched, so
// these types are open (index signatures) and say only what inject relies on.
import type { JsonObject, JsonValue } from './json-patch.js'

export interface ContainerPort extends JsonObject {
  containerPort: number
}
export interface ProbeAction extends JsonObject {}
export interface Probe extends JsonObject {}
export interface Container extends JsonObject {
  name: string
}
export interface PodSpec extends JsonObject {
  containers: Container[]
}
export interface PodTemplate extends JsonObject {
  spec: PodSpec
}

export const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const

export const asObject = (v: JsonValue | undefined): JsonObject | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined

export const portsOf = (c: Container): ContainerPort[] => (Array.isArray(c.ports) ? (c.ports as ContainerPort[]) : [])
export const envOf = (c: Container): JsonObject[] => (Array.isArray(c.env) ? (c.env as JsonObject[]) : [])

/** Every container of the pod, init containers included. */
export function allContainers(spec: PodSpec): Container[] {
  const init = Array.isArray(spec.initContainers) ? (spec.initContainers as Container[]) : []
  return [...init, ...spec.containers]
}

export function annotationsOf(tpl: PodTemplate): Record<string, string> {
  const a = asObject(asObject(tpl.metadata)?.annotations)
  return (a ?? {}) as Record<string, string>
}

/** Sets (or, with undefined, deletes) an annotation of an object (pod template, Service); drops the annotations it leaves empty. */
export function setAnnotation(tpl: JsonObject, key: string, value: string | undefined): void {
  const metadata = asObject(tpl.metadata) ?? {}
  const annotations = asObject(metadata.annotations) ?? {}
  if (value === undefined) delete annotations[key]
  else annotations[key] = value
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations
  else delete metadata.annotations
  if (Object.keys(metadata).length > 0 || tpl.metadata !== undefined) tpl.metadata = metadata
}
