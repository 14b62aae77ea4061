// A set of open connections (a forwarder's clients, the ingress's unclassified ones):
// counted, awaited when draining, cut when the drain times out.
import type { Socket } from 'node:net'

export class ConnectionSet {
  readonly #sockets = new Set<Socket>()
  #waiters: Array<() => void> = []

  get size(): number {
    return this.#sockets.size
  }

  add(socket: Socket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.delete(socket))
  }

  /** No longer this set's to track (closed, or handed on). */
  delete(socket: Socket): void {
    if (!this.#sockets.delete(socket)) return
    if (this.#sockets.size === 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
    }
  }

  [Symbol.iterator](): IterableIterator<Socket> {
    return this.#sockets.values()
  }

  whenEmpty(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** FIN every socket, destroy what is still open a moment later; returns how many there were. */
  destroyAll(finGraceMs = 200): number {
    const n = this.#sockets.size
    for (const s of this.#sockets) s.end()
    if (n > 0)
      setTimeout(() => {
        for (const s of this.#sockets) s.destroy()
      }, finGraceMs).unref()
    return n
  }
}
