// One AdmissionReview (admission.k8s.io/v1) in, its response out. The patch is the JSON Patch
// between the pod as it came and the pod as `drainpipe inject` writes it (the same transform), so
// the webhook and the CLI cannot disagree. A pod that cannot be injected is admitted unchanged,
// with the reason as a warning (kubectl prints it): the webhook never blocks a workload.
import { diff, type JsonObject, type JsonValue } from '../inject/json-patch.js'
import { STATE_ANNOTATIONS, type SettingTexts } from '../inject/options.js'
import { asObject } from '../inject/pod-spec.js'
import { transform } from '../inject/transform.js'

/** How the request was routed: by the namespace's label (inject unless the pod opts out) or for annotated pods only. */
export type Selection = 'namespace' | 'annotated'

export interface ReviewOptions {
  given: SettingTexts
  version: string
  newToken(): string
}

export interface AdmissionResponse {
  uid: string
  allowed: true
  patchType?: 'JSONPatch'
  patch?: string
  warnings?: string[]
}

export class BadReview extends Error {
  readonly code = 'ERR_WEBHOOK_REVIEW'
}

/** Kubernetes shows warnings in full only up to this length. */
const WARNING_MAX = 256
const warning = (text: string) => (text.length <= WARNING_MAX ? text : `${text.slice(0, WARNING_MAX - 1)}…`)

export function review(
  body: unknown,
  selection: Selection,
  opts: ReviewOptions,
): { apiVersion: string; kind: string; response: AdmissionResponse } {
  const b = asObject(body as JsonValue)
  if (!b || b.apiVersion !== 'admission.k8s.io/v1' || b.kind !== 'AdmissionReview')
    throw new BadReview('expected an admission.k8s.io/v1 AdmissionReview')
  const request = asObject(b.request)
  if (!request || typeof request.uid !== 'string') throw new BadReview('AdmissionReview without request.uid')
  const respond = (extra: Partial<AdmissionResponse> = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid as string, allowed: true as const, ...extra },
  })

  const pod = asObject(request.object)
  if (asObject(request.kind)?.kind !== 'Pod' || !pod) return respond()
  const optIn = asObject(asObject(pod.metadata)?.annotations)?.[STATE_ANNOTATIONS.inject]
  const wanted = selection === 'namespace' ? optIn !== 'false' : optIn === 'true'
  if (!wanted) return respond()

  // The pod's namespace is in the request (a pod from a ReplicaSet has none in its metadata yet).
  const named = structuredClone(pod)
  const result = transform([named], 'inject', { ...opts, reportUnseenServices: false }, [])
  if (result.errors.length > 0) return respond({ warnings: result.errors.map((e) => warning(`drainpipe: not injected: ${e.message}`)) })
  const ops = diff(pod, result.docs[0] as JsonObject)
  const warnings = result.notes.map((n) => warning(`drainpipe: ${n}`))
  return respond({
    ...(ops.length > 0 ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(ops)).toString('base64') } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  })
}
