// Who may call the mutating admin endpoints (/prestop): with --admin-token, whoever sends
// `Authorization: Bearer <token>` (the normal posture: every manifest in k8s/ sets one);
// without one, loopback clients only, which is a guard by source address alone. Under a
// service mesh that guard is weak: the mesh's sidecar proxy delivers inbound traffic to the
// pod from a loopback address, so any workload the mesh lets in looks local. Istio's inbound
// passthrough uses 127.0.0.6, which is refused outright; other meshes (Linkerd: 127.0.0.1)
// cannot be told apart, hence the start-up warning and the token.
import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import { unmapped } from '../proxy-protocol/address.js'

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; message: string }

/** Istio's inbound passthrough source: traffic from other pods, relayed by the Envoy sidecar. */
export const MESH_PASSTHROUGH_SOURCES: readonly string[] = Object.freeze(['127.0.0.6'])

export function createAdminAuth(token: string | undefined): (req: IncomingMessage) => AuthResult {
  // Compare digests, so the comparison takes the same time whatever the length of the guess.
  // node:crypto only with a token: it is ~30 of Node's modules a pod without one never needs.
  const crypto: typeof import('node:crypto') | undefined = token === undefined ? undefined : createRequire(import.meta.url)('node:crypto')
  const digest = (s: string) => crypto!.createHash('sha256').update(s).digest()
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`)
  return (req) => {
    if (expected !== undefined) {
      const given = req.headers.authorization
      if (given !== undefined && crypto!.timingSafeEqual(digest(given), expected)) return { ok: true }
      return { ok: false, status: 401, message: 'missing or wrong "Authorization: Bearer" token (--admin-token)\n' }
    }
    const source = unmapped(req.socket.remoteAddress ?? '')
    if (MESH_PASSTHROUGH_SOURCES.includes(source)) {
      return {
        ok: false,
        status: 403,
        message: `${source} is a service mesh's inbound passthrough (another workload, relayed by the sidecar proxy), not this pod: set --admin-token to call this through a mesh\n`,
      }
    }
    if (isLoopback(source)) return { ok: true }
    return { ok: false, status: 403, message: 'only loopback clients may call this without --admin-token\n' }
  }
}

/** `address` as unmapped() gives it: ::1 or 127.0.0.0/8. */
export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.')
}

/** What start-up says about the guard when no token is set (undefined: a token is set). */
export function adminGuardNotice(token: string | undefined): string | undefined {
  if (token !== undefined) return undefined
  return (
    'no --admin-token: /prestop is guarded by source address only (loopback callers may take this pod out of service). ' +
    'Under a service mesh (Istio, Linkerd) traffic from other workloads reaches the pod from a loopback address, so any of them could; ' +
    "Istio's 127.0.0.6 is refused, others cannot be told apart. Set --admin-token (the manifests in k8s/ do) and send it from the preStop hook."
  )
}
