// The admin token guarding drainpipe's /prestop: one per workload, random, in both the app's
// preStop header and drainpipe's environment. A preStop httpGet header is a literal (it cannot
// read a Secret), so the token is in the pod spec either way; it keeps other workloads on the pod
// network (and, under a mesh, loopback-sourced traffic) from taking the pod out of service.
import { randomBytes } from 'node:crypto'
import { envOf, type Container } from './pod-spec.js'

export const TOKEN_ENV = 'DRAINPIPE_ADMIN_TOKEN'

export const newToken = (): string => randomBytes(24).toString('base64url')

/** The token an injected drainpipe container carries, to keep it across re-injection. */
export function tokenOf(drainpipe: Container): string | undefined {
  const v = envOf(drainpipe).find((e) => e.name === TOKEN_ENV)?.value
  return typeof v === 'string' && v !== '' ? v : undefined
}
