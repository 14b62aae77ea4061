// Several pod ports' observations, read together by the observers. Each port's target group
// deregisters and stops on its own schedule, even when one LB node (one address) serves both, so
// every (port, peer) pair is a source of its own: the pod is quiet only when every one is.
// With one port a source is the peer alone, as it always was.
import { TrafficObservations } from '../observations.js'

export interface ObservedPort {
  /** The port's name (--port-name, --ports name=). */
  readonly name: string
  readonly observations: TrafficObservations
}

/** One port's observations, or several ports' by name. */
export type Observed = TrafficObservations | readonly ObservedPort[]

export function observedPorts(o: Observed): readonly ObservedPort[] {
  return o instanceof TrafficObservations ? [{ name: '', observations: o }] : o
}

/** The name a (port, peer) source goes by: the peer alone with one port, else PORT/PEER. */
export function sourceKey(ports: readonly ObservedPort[], port: ObservedPort, source: string): string {
  return ports.length === 1 ? source : `${port.name}/${source}`
}

/** The port part of a source key (undefined with one port). Port names never contain '/'. */
export function portOfKey(ports: readonly ObservedPort[], key: string): string | undefined {
  return ports.length === 1 ? undefined : key.slice(0, key.indexOf('/'))
}

/** Call `fn` once, at the next accepted connection, arrival or request on any port. */
export function watchActivity(ports: readonly ObservedPort[], fn: () => void): void {
  let fired = false
  const once = () => {
    if (fired) return
    fired = true
    unwatchActivity(ports)
    fn()
  }
  for (const p of ports) p.observations.watchActivity(once)
}

export function unwatchActivity(ports: readonly ObservedPort[]): void {
  for (const p of ports) p.observations.unwatchActivity()
}

/** Client arrivals ever recorded, over every port. */
export function totalArrivals(ports: readonly ObservedPort[]): number {
  let n = 0
  for (const p of ports) n += p.observations.totalArrivals
  return n
}

/** The newest client arrival on any port, or undefined if none. */
export function lastArrivalAt(ports: readonly ObservedPort[]): number | undefined {
  let last: number | undefined
  for (const p of ports) {
    const at = p.observations.lastArrivalAt
    if (at !== undefined && (last === undefined || at > last)) last = at
  }
  return last
}
