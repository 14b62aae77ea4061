// The dedicated health-check port (--health-check-listen): what the target group's health check
// port points at (service.beta.kubernetes.io/aws-load-balancer-healthcheck-port). TCP checks
// connect and close; HTTP checks (after an optional PROXY header, which is skipped) get the
// HealthResponder's answer: 200 while serving and the app is reachable, 503 otherwise.
//
// The point of a separate port: a TCP check can only be failed by refusing the connection, and
// the pod port must keep accepting clients until draining. So this port closes on its own: at
// termination start in the fast lane (--health-check-on-terminate fail), at draining otherwise,
// and opens again if the pod becomes ready again (a container restart after a /prestop drain).
import net, { type AddressInfo, type Socket } from 'node:net'
import type { HostPort } from '../config.js'
import { HeaderReader } from '../proxy-protocol/reader.js'
import { HealthResponder } from './health-responder.js'
import { ConnectionSet } from './connection-set.js'

/** A check that sends nothing (or nothing but a PROXY header) gets this long before it is closed. */
const IDLE_MS = 10_000

export class HealthListener {
  readonly #listen: HostPort
  readonly #server: net.Server
  readonly #responder: HealthResponder
  readonly #open = new ConnectionSet()
  #bound: AddressInfo | undefined
  #tcpChecks = 0
  #httpChecks = 0

  constructor(listen: HostPort, healthy: () => boolean) {
    this.#listen = listen
    this.#responder = new HealthResponder(healthy)
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket))
  }

  get listening(): boolean {
    return this.#server.listening
  }
  get address(): AddressInfo | undefined {
    return this.#bound
  }

  /** Open (again: the same port as first bound). Resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    if (this.#server.listening) return Promise.resolve(this.#server.address() as AddressInfo)
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      this.#server.once('error', onError)
      this.#server.listen({ host: this.#listen.host, port: this.#bound?.port ?? this.#listen.port }, () => {
        this.#server.removeListener('error', onError)
        this.#bound = this.#server.address() as AddressInfo
        resolve(this.#bound)
      })
    })
  }

  /** Stop accepting (checks now fail with a refused connection) and end the checks in progress. */
  close(): void {
    if (this.#server.listening) this.#server.close()
    for (const socket of this.#open) socket.destroy()
    this.#responder.close()
  }

  view(): Record<string, unknown> {
    return {
      address: this.#bound ? `${this.#bound.address}:${this.#bound.port}` : null,
      open: this.#server.listening,
      tcpChecks: this.#tcpChecks,
      httpChecks: this.#httpChecks,
    }
  }

  #onConnection(socket: Socket): void {
    this.#open.add(socket)
    socket.setTimeout(IDLE_MS, () => socket.destroy())
    socket.on('error', () => {})
    const reader = new HeaderReader({ stackedHeaders: 'pass' })
    const done = () => {
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
    }
    const serve = (rest: Buffer) => {
      done()
      this.#httpChecks++
      socket.pause()
      this.#responder.accept(socket, rest)
    }
    const onData = (chunk: Buffer) => {
      const r = reader.push(chunk)
      if (r.kind === 'more') return
      if (r.kind === 'error') {
        done()
        socket.destroy()
        return
      }
      if (r.kind === 'none' || r.rest.length > 0) {
        serve(r.rest)
        return
      }
      // A header alone (a TCP check behind PROXY protocol, or an HTTP check whose request follows).
      socket.removeListener('data', onData)
      socket.once('data', (next: Buffer) => {
        socket.removeListener('end', onEnd)
        serve(next)
      })
    }
    const onEnd = () => {
      this.#tcpChecks++
      socket.end()
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
  }
}
