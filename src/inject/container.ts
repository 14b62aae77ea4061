// The drainpipe container inject adds: configured only through its DRAINPIPE_* environment (the
// same names as the flags' twins), so `parseConfig([], env)` reads exactly what the pod runs with.
import { OPTIONS } from '../config.js'
import type { JsonObject } from './json-patch.js'
import type { InjectSettings } from './options.js'
import type { Container, ContainerPort } from './pod-spec.js'
import { ADMIN_PORT_NAME, type Takeover } from './ports.js'
import { drainpipeProbes } from './probes.js'
import { prestopHook } from './hooks.js'
import { TOKEN_ENV } from './token.js'

export const DRAINPIPE_CONTAINER = 'drainpipe'

const envName = (flag: string): string => OPTIONS.find((o) => o.flag === flag)!.env

export interface DrainpipeContainerPlan {
  settings: InjectSettings
  takeover: Takeover
  adminPort: number
  /** drainpipe options as text by flag, including the ones inject derived */
  options: ReadonlyMap<string, string>
  token: string
}

/**
 * drainpipe's options for this pod, by flag, in the option table's order: the passed-through
 * settings, plus the ones inject derives or pins (the grace period is sized from --max-wait and
 * --drain-timeout, and the probes and hooks use --admin's port, so those are written out even at
 * their defaults: a newer image with other defaults must not break the arithmetic).
 */
export function drainpipeOptions(settings: InjectSettings, takeover: Takeover, graceS: number): Map<string, string> {
  const given = new Map(settings.drainpipe)
  given.set('listen', `0.0.0.0:${takeover.listenPort}`)
  given.set('upstream', `127.0.0.1:${takeover.appPort}`)
  given.set('grace-period', String(graceS))
  for (const pinned of ['admin', 'max-wait', 'drain-timeout'])
    if (!given.has(pinned)) given.set(pinned, OPTIONS.find((o) => o.flag === pinned)!.default)
  const o = new Map<string, string>()
  for (const spec of OPTIONS) if (given.has(spec.flag)) o.set(spec.flag, given.get(spec.flag)!)
  return o
}

/** The port the load balancer reaches: drainpipe listens on it, under the app port's original name. */
export const lbPort = (takeover: Takeover): ContainerPort => ({ name: takeover.listenName, containerPort: takeover.listenPort })

/**
 * Which container declares the LB-facing port. A declaration is informational (every container of
 * the pod shares its network namespace; drainpipe is what listens), but named ports are resolved
 * from it: by the AWS Load Balancer Controller for IP targets (from spec.containers only:
 * aws-load-balancer-controller pkg/k8s/pod_info.go, issue #4239) and by the endpoint controllers
 * before Kubernetes 1.32 (kubernetes/kubernetes#127958). So with a native sidecar (an init
 * container) the app container declares it, and a Service's named targetPort resolves everywhere.
 */
export const lbPortOwner = (native: boolean): 'app' | 'drainpipe' => (native ? 'app' : 'drainpipe')

export function drainpipeContainer(plan: DrainpipeContainerPlan, native: boolean): Container {
  const { settings, takeover, adminPort, token } = plan
  const env: JsonObject[] = [...plan.options].map(([flag, value]) => ({ name: envName(flag), value }))
  // The pod's own address: the elbv2 observer's target id.
  env.push({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } })
  env.push({ name: TOKEN_ENV, value: token })
  const container: Container = {
    name: DRAINPIPE_CONTAINER,
    image: settings.image,
    // A native sidecar's LB-facing port is declared on the app container instead (lbPortOwner).
    ports: [...(native ? [] : [lbPort(takeover)]), { name: ADMIN_PORT_NAME, containerPort: adminPort }],
    env,
    ...drainpipeProbes(ADMIN_PORT_NAME, native),
    // The same call as the app's: drainpipe is stopped only once it has drained.
    lifecycle: { preStop: prestopHook(adminPort, token) },
    resources: {
      requests: { cpu: settings.cpuRequest, memory: settings.memoryRequest },
      limits: { memory: settings.memoryLimit },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
  }
  if (native) container.restartPolicy = 'Always'
  return container
}
