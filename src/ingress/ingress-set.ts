// The pod ports' ingresses commanded as one by the lifecycle: announce, stop accepting, drain
// and abort reach every port, and the drain ends when every port's connections have.
import type { AddressInfo } from 'node:net'
import type { DrainTarget } from '../lifecycle/shutdown.js'
import type { Ingress } from './server.js'

export class IngressSet implements DrainTarget {
  readonly #ingresses: readonly Ingress[]

  constructor(ingresses: readonly Ingress[]) {
    this.#ingresses = ingresses
  }

  /** Open connections on every port. */
  get active(): number {
    return this.#ingresses.reduce((n, i) => n + i.active, 0)
  }

  /** Client and direct connections accepted so far, on every port. */
  get clientConnections(): number {
    return this.#ingresses.reduce((n, i) => n + i.clientConnections, 0)
  }

  listen(): Promise<AddressInfo[]> {
    return Promise.all(this.#ingresses.map((i) => i.listen()))
  }

  resumeAccepting(): Promise<AddressInfo[]> {
    return Promise.all(this.#ingresses.map((i) => i.resumeAccepting()))
  }

  announceClose(): void {
    for (const i of this.#ingresses) i.announceClose()
  }

  async stopAccepting(): Promise<void> {
    await Promise.all(this.#ingresses.map((i) => i.stopAccepting()))
  }

  async drain(): Promise<void> {
    await Promise.all(this.#ingresses.map((i) => i.drain()))
  }

  abort(): number {
    return this.#ingresses.reduce((n, i) => n + i.abort(), 0)
  }

  async close(): Promise<void> {
    await Promise.all(this.#ingresses.map((i) => i.close()))
  }
}
