// Port takeover. drainpipe must own the port the load balancer reaches; a Service usually names
// its targetPort, so drainpipe's new port carries the original port's *name* (the Service reaches
// drainpipe unchanged) and the app keeps its *number* under a new name (drainpipe reaches it on
// 127.0.0.1:NUMBER, and nothing in the app changes).
import { InjectError } from '../errors.js'
import { allContainers, portsOf, type Container, type ContainerPort, type PodSpec } from './pod-spec.js'

export interface Takeover {
  app: Container
  /** the app's port entry, before renaming */
  port: ContainerPort
  /** the original name, which drainpipe's port now carries (undefined: the port had none) */
  name: string | undefined
  /** the app port's new name (undefined when it had none) */
  appName: string | undefined
  /** the app's port number: drainpipe's --upstream */
  appPort: number
  /** drainpipe's LB-facing port: --listen */
  listenPort: number
  /** name of drainpipe's LB-facing port */
  listenName: string
}

export const UNNAMED_LISTEN_NAME = 'dp-traffic'
export const ADMIN_PORT_NAME = 'dp-admin'

/** `http` -> `http-app`, within the 15 characters a port name may have. */
export const appPortName = (name: string): string => `${name.slice(0, 11).replace(/-+$/, '')}-app`

const isTcp = (p: ContainerPort) => p.protocol === undefined || p.protocol === 'TCP'

/** Finds the app's LB-facing port; refuses, saying what to set, when it is not clear which. */
export function findAppPort(spec: PodSpec, wanted: string | number | undefined, what: string): { app: Container; port: ContainerPort } {
  const candidates = spec.containers.flatMap((app) =>
    portsOf(app)
      .filter(isTcp)
      .map((port) => ({ app, port })),
  )
  if (wanted !== undefined) {
    const hit = spec.containers
      .flatMap((app) => portsOf(app).map((port) => ({ app, port })))
      .find(({ port }) => (typeof wanted === 'number' ? port.containerPort === wanted : port.name === wanted))
    if (!hit)
      throw new InjectError(
        'ERR_INJECT_PORT',
        `${what}: no container declares port ${JSON.stringify(wanted)} (drainpipe.io/port); declared: ${describe(candidates)}`,
      )
    if (!isTcp(hit.port))
      throw new InjectError(
        'ERR_INJECT_PORT',
        `${what}: port ${JSON.stringify(wanted)} is ${String(hit.port.protocol)}; drainpipe forwards TCP only`,
      )
    return hit
  }
  if (candidates.length === 1) return candidates[0]!
  const http = candidates.filter(({ port }) => port.name === 'http')
  if (http.length === 1) return http[0]!
  throw new InjectError(
    'ERR_INJECT_PORT',
    candidates.length === 0
      ? `${what}: no container declares a TCP port; declare the port the load balancer reaches (containerPort) or set the annotation drainpipe.io/port`
      : `${what}: ${candidates.length} TCP ports (${describe(candidates)}): say which one the load balancer reaches with the annotation drainpipe.io/port (or --port)`,
  )
}

function describe(list: Array<{ app: Container; port: ContainerPort }>): string {
  return list.map(({ app, port }) => `${app.name}:${port.name ? `${port.name}=` : ''}${port.containerPort}`).join(', ') || 'none'
}

/** Port numbers and names already taken anywhere in the pod. */
export function usedPorts(spec: PodSpec): { numbers: Set<number>; names: Set<string> } {
  const ports = allContainers(spec).flatMap(portsOf)
  return {
    numbers: new Set(ports.map((p) => p.containerPort)),
    names: new Set(ports.flatMap((p) => (typeof p.name === 'string' ? [p.name] : []))),
  }
}

export function planTakeover(
  spec: PodSpec,
  wanted: string | number | undefined,
  listenPort: number | undefined,
  adminPort: number,
  what: string,
): Takeover {
  const { app, port } = findAppPort(spec, wanted, what)
  if (port.hostPort !== undefined)
    throw new InjectError(
      'ERR_INJECT_PORT',
      `${what}: port ${port.containerPort} has a hostPort; drainpipe sits in front of pod-IP (IP target mode) traffic, so remove hostPort or do not inject this workload`,
    )
  const used = usedPorts(spec)
  const appPort = port.containerPort
  const name = typeof port.name === 'string' ? port.name : undefined
  const appName = name === undefined ? undefined : appPortName(name)
  if (appName !== undefined && used.names.has(appName))
    throw new InjectError('ERR_INJECT_PORT', `${what}: the app port's new name ${appName} is already taken in the pod`)
  for (const taken of [UNNAMED_LISTEN_NAME, ADMIN_PORT_NAME]) {
    if (used.names.has(taken))
      throw new InjectError('ERR_INJECT_PORT', `${what}: port name ${taken} is already used in the pod; drainpipe needs it`)
  }
  if (used.numbers.has(adminPort))
    throw new InjectError(
      'ERR_INJECT_PORT',
      `${what}: port ${adminPort} is already used in the pod; set drainpipe's admin port with the annotation drainpipe.io/admin (e.g. 0.0.0.0:9902)`,
    )
  let listen = listenPort
  if (listen === undefined) {
    const free = (n: number) => n <= 65535 && !used.numbers.has(n) && n !== adminPort
    listen = free(appPort + 10000) ? appPort + 10000 : [...Array(45536).keys()].map((i) => 20000 + i).find(free)!
  } else if (used.numbers.has(listen) || listen === adminPort) {
    throw new InjectError('ERR_INJECT_PORT', `${what}: drainpipe.io/listen-port ${listen} is already used in the pod`)
  }
  return { app, port, name, appName, appPort, listenPort: listen, listenName: name ?? UNNAMED_LISTEN_NAME }
}
