// The pod port. Accepts connections, classifies them (classify.ts), counts and observes
// them, and hands clients to the forwarder. Lifecycle commands it through announceClose(),
// stopAccepting(), drain() and abort(); it never reaches into the forwarder beyond the
// Forwarder interface.
//
// Observation starts at accept: a connection is pending for its source until classified, then
// counted as a client arrival at its accept time, or taken back out (a health check, a refusal).
import net, { type AddressInfo, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { HostPort } from '../config.js'
import type { Forwarder } from '../forward/forwarder.js'
import type { Metrics } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import type { SourcePolicy } from '../proxy-protocol/policy.js'
import type { ProxyHeader } from '../proxy-protocol/header.js'
import type { ArrivalSource, TrafficObservations } from '../lifecycle/observations.js'
import { classify, sentOnlyHeader, type ClassifyOptions, type ClassifySink, type RefusedBy } from './classify.js'
import { clientInfo } from './client-info.js'
import { unmapped } from '../proxy-protocol/address.js'
import type { HealthResponder } from './health-responder.js'
import { cachedSourcePolicy } from './source-policy-cache.js'
import { fdConnectionBudget } from './fd-budget.js'
import { ConnectionSet } from './connection-set.js'

export interface IngressOptions {
  listen: HostPort
  maxConnections: number
  /** Pod ports sharing the descriptor budget (default 1): each gets its share of the derived cap. */
  fdBudgetShares?: number
  sourcePolicy: (remoteAddress: string) => SourcePolicy
  classify: ClassifyOptions
  forwarder: Forwarder
  health: HealthResponder
  observations: TrafficObservations
  metrics: Metrics
  logger: Logger
}

/** A pending connection accepted but sending nothing gets this long, at drain start, to begin. */
export const PENDING_GRACE_MS = 1000

/** Where a connection came from (its peer address, ::ffff: removed) and when it was accepted, kept on the socket until classified. */
interface Accepted {
  readonly remote: string
  readonly source: ArrivalSource
  readonly at: number
}
const kAccepted = Symbol('drainpipe.accepted')
type AcceptedSocket = Socket & { [kAccepted]?: Accepted }

export class Ingress {
  readonly #opts: IngressOptions
  readonly #server: net.Server
  readonly #sourcePolicy: (remoteAddress: string) => SourcePolicy
  /** Connections still being classified. */
  readonly #pending = new ConnectionSet()
  #clientConnections = 0
  #acceptErrorLoggedAt = 0
  /** Where the pod port was bound first: a reopen (after a container restart) binds the same. */
  #bound: AddressInfo | undefined
  /** Open pod-port connections allowed (0 = no cap): --max-connections, else from the descriptor limit. */
  readonly connectionCap: number

  constructor(opts: IngressOptions) {
    this.#opts = opts
    this.#sourcePolicy = cachedSourcePolicy(opts.sourcePolicy)
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (socket) => this.#onConnection(socket))
    // Without --max-connections the cap comes from the descriptor limit (fd-budget.ts), so a
    // flood is refused and counted instead of silently shed with the admin port starved.
    const capped = opts.maxConnections > 0
    const budget = fdConnectionBudget()
    this.connectionCap = capped ? opts.maxConnections : budget === 0 ? 0 : Math.max(1, Math.floor(budget / (opts.fdBudgetShares ?? 1)))
    if (this.connectionCap > 0) this.#server.maxConnections = this.connectionCap
    const reason = capped ? 'max_connections' : 'fd_limit'
    let dropLoggedAt = 0
    let dropsSinceLog = 0
    this.#server.on('drop', (data) => {
      opts.metrics.refused[reason].inc()
      dropsSinceLog++
      const now = Date.now()
      if (now - dropLoggedAt < 1000) return // a flood must not become a log flood
      dropLoggedAt = now
      opts.logger.warn(
        { client: data?.remoteAddress, cap: this.connectionCap, refused: dropsSinceLog },
        capped
          ? 'connection refused: --max-connections reached'
          : 'connection refused: at the cap derived from the file-descriptor limit (ulimit -n); set --max-connections or raise the limit',
      )
      dropsSinceLog = 0
    })
    // accept() failures (EMFILE when out of file descriptors) must neither crash nor spin:
    // libuv keeps a spare descriptor to shed the connection; we count and log at most 1/s.
    this.#server.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.#server.listening) return
      opts.metrics.acceptErrors.labels(err.code ?? 'unknown').inc()
      const now = Date.now()
      if (now - this.#acceptErrorLoggedAt > 1000) {
        this.#acceptErrorLoggedAt = now
        opts.logger.error({ err }, 'accept failed on the pod port')
      }
    })
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err)
      this.#server.once('error', onError)
      this.#server.listen({ host: this.#opts.listen.host, port: this.#bound?.port ?? this.#opts.listen.port, backlog: 1024 }, () => {
        this.#server.removeListener('error', onError)
        this.#bound = this.#server.address() as AddressInfo
        resolve(this.#bound)
      })
    })
  }

  /** Serve again after a drain: the app restarted and the pod is to become ready again. */
  async resumeAccepting(): Promise<AddressInfo> {
    this.#opts.forwarder.resume()
    return this.#server.listening ? (this.#server.address() as AddressInfo) : this.listen()
  }

  /** The port bound (the system's choice for port 0); undefined before listen(). */
  get boundPort(): number | undefined {
    return this.#bound?.port
  }

  get listening(): boolean {
    return this.#server.listening
  }

  /** Open connections: being classified, or forwarded. */
  get active(): number {
    return this.#pending.size + this.#opts.forwarder.active
  }

  /** Client and direct connections accepted so far. */
  get clientConnections(): number {
    return this.#clientConnections
  }

  /** From now on responses ask clients to close their connections (http). */
  announceClose(): void {
    this.#opts.forwarder.announceClose()
  }

  /**
   * Close the pod port, after one turn of the event loop's poll phase (setImmediate) so that
   * connections already queued in the listen backlog are accepted and served, not reset.
   */
  async stopAccepting(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (this.#server.listening) this.#server.close()
  }

  /**
   * Connections still being classified are served once classified. Those with nothing in flight
   * (no byte yet, or only a PROXY header) get PENDING_GRACE_MS to begin (a request may be on its
   * way), then are closed like idle keep-alives, not counted as cut. Resolves when all are gone.
   */
  async drain(): Promise<void> {
    const idle = setTimeout(() => {
      for (const socket of this.#pending) if (socket.bytesRead === 0 || sentOnlyHeader(socket)) socket.destroy()
    }, PENDING_GRACE_MS)
    idle.unref()
    const forwarded = this.#opts.forwarder.drain()
    await this.#pending.whenEmpty()
    clearTimeout(idle)
    await forwarded
    // Connections classified during the drain were handed to the forwarder after it was asked:
    // wait for those too (the pod port is closed, so no more can come).
    await this.#opts.forwarder.drain()
  }

  /** Close what remains; returns how many were open. */
  abort(): number {
    let cut = this.#pending.size
    for (const socket of this.#pending) socket.destroy()
    cut += this.#opts.forwarder.abort()
    this.#opts.health.close()
    return cut
  }

  async close(): Promise<void> {
    if (this.#server.listening) this.#server.close()
    this.abort()
    await this.#opts.forwarder.close()
  }

  #onConnection(socket: AcceptedSocket): void {
    if (socket.remoteAddress === undefined) {
      // Reset by the peer before we accepted it (getpeername fails): a probe that connected
      // and left at once, such as a health check closing with RST. Nothing can be served or
      // attributed to a source, so it is counted as a health check and not fed to the
      // observers (an unknown source would blur their per-node view).
      this.#opts.metrics.accepted.healthcheck.inc()
      this.#opts.metrics.healthChecks.empty.inc()
      socket.destroy()
      return
    }
    const remote = unmapped(socket.remoteAddress)
    const at = performance.now()
    socket[kAccepted] = { remote, source: this.#opts.observations.connectionAccepted(remote, at), at }
    this.#pending.add(socket)
    classify(socket, this.#sourcePolicy(remote), this.#opts.classify, this.#sink)
  }

  /** The connection is classified: a client arrival (at its accept time) or taken back out. Returns its peer address. */
  #classified(socket: AcceptedSocket, client: boolean): string {
    this.#pending.delete(socket)
    const accepted = socket[kAccepted]
    if (accepted === undefined) return unmapped(socket.remoteAddress ?? '')
    socket[kAccepted] = undefined
    this.#opts.observations.connectionClassified(accepted.source, accepted.at, client)
    return accepted.remote
  }

  readonly #sink: ClassifySink = {
    client: (socket, header, head) => {
      this.#arrived(socket, header)
      this.#opts.forwarder.accept({ socket, client: clientInfo(socket, header), head })
    },
    abandoned: (socket, header, by) => {
      this.#arrived(socket, header)
      if (by === 'header_timeout') this.#opts.metrics.refused.header_timeout.inc()
      this.#opts.logger.debug(
        { client: header.source?.address, lb: socket.remoteAddress, by },
        'connection ended after its PROXY header, before sending anything',
      )
      socket.destroy()
    },
    local: (socket, head) => {
      this.#healthCheck(socket, 'local')
      this.#opts.health.accept(socket, head)
    },
    empty: (socket) => {
      this.#healthCheck(socket, 'empty')
      socket.destroy()
    },
    refused: (socket, by) => {
      this.#classified(socket, false)
      this.#refuse(socket, by)
    },
  }

  /** A load-balancer health check (a PROXY v2 LOCAL header, or a connection closed without a byte): counted and observed. */
  #healthCheck(socket: AcceptedSocket, kind: 'local' | 'empty'): void {
    const remote = this.#classified(socket, false)
    this.#opts.metrics.accepted.healthcheck.inc()
    this.#opts.metrics.healthChecks[kind].inc()
    this.#opts.observations.healthCheckSeen(remote, kind, performance.now())
  }

  /** A client connection (PROXY header or direct): counted and observed. */
  #arrived(socket: Socket, header: ProxyHeader | null): void {
    this.#classified(socket, true)
    this.#clientConnections++
    this.#opts.metrics.accepted[header ? 'client' : 'direct'].inc()
    if (header?.crc32c === 'mismatch') this.#opts.metrics.crcMismatchAccepted.inc()
  }

  #refuse(socket: Socket, by: RefusedBy): void {
    const { metrics, logger } = this.#opts
    const client = socket.remoteAddress
    if (by === 'header_timeout') {
      metrics.refused.header_timeout.inc()
      logger.debug({ client }, 'connection closed: no PROXY header or data within --header-timeout')
    } else if (by === 'untrusted_source') {
      metrics.refused.untrusted_source.inc()
      logger.warn({ client }, 'connection closed: source is not in --trusted-proxies and --proxy-protocol is required')
    } else {
      metrics.headerErrors.labels(by.reason).inc()
      logger.warn({ client, code: by.code, reason: by.reason }, `connection closed: ${by.message}`)
    }
    socket.destroy()
  }
}
