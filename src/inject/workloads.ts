// Where pod templates are in the objects inject reads: a Pod is its own template; workloads keep
// one under spec.template (CronJob one level deeper); a List (kind List or FooList) holds items.
import type { JsonObject, JsonValue } from './json-patch.js'
import { asObject, type PodTemplate } from './pod-spec.js'

export interface PodTemplateRef {
  /** the object holding the template, for messages and namespace/labels */
  kind: string
  name: string
  namespace: string | undefined
  /** JSON pointer tokens from the document root to the template */
  path: string[]
  /** pods that run to completion */
  job: boolean
}

const TEMPLATE_AT: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
}

export const isList = (o: JsonObject): boolean => Array.isArray(o.items) && typeof o.kind === 'string' && o.kind.endsWith('List')

export function getAt(root: JsonValue, path: readonly string[]): JsonValue | undefined {
  let node: JsonValue | undefined = root
  for (const t of path) node = Array.isArray(node) ? node[Number(t)] : asObject(node)?.[t]
  return node
}

/** Every pod template in a document, with where it is. */
export function podTemplates(doc: JsonValue, base: string[] = []): PodTemplateRef[] {
  const o = asObject(doc)
  if (!o || typeof o.kind !== 'string') return []
  if (isList(o)) return (o.items as JsonValue[]).flatMap((item, i) => podTemplates(item, [...base, 'items', String(i)]))
  const metadata = asObject(o.metadata)
  const name =
    typeof metadata?.name === 'string'
      ? metadata.name
      : typeof metadata?.generateName === 'string'
        ? `${metadata.generateName}*`
        : '(unnamed)'
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : undefined
  if (o.kind === 'Pod') {
    if (!asObject(o.spec)) return []
    const restart = asObject(o.spec)!.restartPolicy
    return [{ kind: o.kind, name, namespace, path: base, job: restart === 'Never' || restart === 'OnFailure' }]
  }
  const at = TEMPLATE_AT[o.kind]
  if (!at) return []
  const tpl = asObject(getAt(o, at))
  if (!tpl || !asObject(tpl.spec)) return []
  return [{ kind: o.kind, name, namespace, path: [...base, ...at], job: o.kind === 'Job' || o.kind === 'CronJob' }]
}

export const templateAt = (doc: JsonValue, ref: PodTemplateRef): PodTemplate => getAt(doc, ref.path) as PodTemplate

/** Replaces the template at ref.path (the document root for a bare Pod). */
export function setTemplate(doc: JsonValue, ref: PodTemplateRef, tpl: PodTemplate): JsonValue {
  if (ref.path.length === 0) return tpl
  const parent = getAt(doc, ref.path.slice(0, -1))
  const last = ref.path[ref.path.length - 1]!
  if (Array.isArray(parent)) parent[Number(last)] = tpl
  else (parent as JsonObject)[last] = tpl
  return doc
}
