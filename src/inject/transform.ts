// inject/uninject over a set of documents (one input): every pod template, then the Services that
// select the pods whose port was taken over. Pure: the documents in, new documents and the lines
// for stderr out. A refused object is an error naming it; the caller decides what to write.
import { InjectError } from '../errors.js'
import type { JsonObject, JsonValue } from './json-patch.js'
import { injectPod, uninjectPod } from './pod.js'
import { STATE_ANNOTATIONS, type SettingTexts } from './options.js'
import { annotationsOf, asObject } from './pod-spec.js'
import { restoreService, retargetService, unseenServiceNote, type TakenOver } from './services.js'
import { isList, podTemplates, setTemplate, templateAt } from './workloads.js'

export type Direction = 'inject' | 'uninject'

export interface TransformOptions {
  given: SettingTexts
  version: string
  newToken(): string
  /** say which Services outside the input need changing (the CLI: yes; the webhook: no Services there) */
  reportUnseenServices?: boolean
}

export interface TransformResult {
  docs: JsonValue[]
  notes: string[]
  errors: InjectError[]
}

/** Every object of the documents, List items included (they are visited in place). */
function* objects(doc: JsonValue): Generator<JsonObject> {
  const o = asObject(doc)
  if (!o) return
  yield o
  if (isList(o)) for (const item of o.items as JsonValue[]) yield* objects(item)
}

export function transform(
  input: readonly JsonValue[],
  direction: Direction,
  opts: TransformOptions,
  sources: readonly string[],
): TransformResult {
  const notes: string[] = []
  const errors: InjectError[] = []
  const takenOver: TakenOver[] = []
  const docs = input.map((doc, d) => {
    let out = structuredClone(doc)
    for (const ref of podTemplates(out)) {
      const what = `${ref.kind} ${ref.name}${sources[d] ? ` (${sources[d]})` : ''}`
      try {
        const tpl = templateAt(out, ref)
        if (direction === 'inject' && annotationsOf(tpl)[STATE_ANNOTATIONS.inject] === 'false') {
          notes.push(`${what}: skipped: annotated ${STATE_ANNOTATIONS.inject}: "false"`)
          continue
        }
        if (direction === 'uninject') out = setTemplate(out, ref, uninjectPod(tpl, what))
        else {
          const done = injectPod(tpl, {
            what,
            given: opts.given,
            version: opts.version,
            job: ref.job,
            newToken: opts.newToken,
            note: (l) => notes.push(l),
          })
          out = setTemplate(out, ref, done.tpl)
          const labels = (asObject(asObject(done.tpl.metadata)?.labels) ?? {}) as Record<string, string>
          takenOver.push({ what, namespace: ref.namespace, labels, takeover: done.takeover })
        }
      } catch (err) {
        if (!(err instanceof InjectError)) throw err
        errors.push(err)
      }
    }
    return out
  })
  const seen = new Set<TakenOver>()
  for (const doc of docs) {
    for (const o of objects(doc)) {
      if (o.kind !== 'Service') continue
      if (direction === 'uninject') restoreService(o)
      else for (const hit of retargetService(o, takenOver)) seen.add(hit)
    }
  }
  if (opts.reportUnseenServices !== false) for (const p of takenOver) if (!seen.has(p)) notes.push(unseenServiceNote(p))
  return { docs, notes, errors }
}
