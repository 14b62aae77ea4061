// Probes. The app's probes that named the moved port would now reach drainpipe (the name is
// drainpipe's): they get the app's number instead. drainpipe gets its own probes on the admin port.
import { asObject, PROBES, type Container } from './pod-spec.js'
import type { JsonObject } from './json-patch.js'

const ACTIONS = ['httpGet', 'tcpSocket'] as const

/** Rewrites the app's probe (and postStart) ports named `from` to `to`; returns what it changed, for uninject. */
export function retargetProbes(app: Container, from: string, to: number | string): string[] {
  const changed: string[] = []
  const targets: Array<[string, JsonObject | undefined]> = [
    ...PROBES.map((p) => [p, asObject(app[p])] as [string, JsonObject | undefined]),
    ['lifecycle.postStart', asObject(asObject(app.lifecycle)?.postStart)],
  ]
  for (const [where, probe] of targets) {
    for (const action of ACTIONS) {
      const a = asObject(probe?.[action])
      if (a && a.port === from) {
        a.port = to
        changed.push(`${where}.${action}`)
      }
    }
  }
  return changed
}

/** uninject: the inverse of retargetProbes for the places it reported. */
export function restoreProbes(app: Container, changed: readonly string[], name: string): void {
  for (const where of changed) {
    const parts = where.split('.')
    let node: JsonObject | undefined = app
    for (const p of parts) node = asObject(node?.[p])
    if (node) node.port = name
  }
}

/** drainpipe's own probes: ready only while the LB should send (503 once termination began), live unless stuck. */
export function drainpipeProbes(adminPortName: string, native: boolean): JsonObject {
  const probes: JsonObject = {
    readinessProbe: { httpGet: { path: '/readyz', port: adminPortName }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: { httpGet: { path: '/livez', port: adminPortName }, periodSeconds: 10, failureThreshold: 3 },
  }
  // A native sidecar counts as started, and the app is started after it, once this passes: so the
  // app never starts before drainpipe listens.
  if (native) probes.startupProbe = { httpGet: { path: '/livez', port: adminPortName }, periodSeconds: 1, failureThreshold: 30 }
  return probes
}
