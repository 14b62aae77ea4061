// What ingress hands connections to, and what lifecycle commands during a drain.
import type { Socket } from 'node:net'
import type { ClientInfo } from '../ingress/client-info.js'
import type { StackedHeaderGuard } from '../proxy-protocol/reader.js'

export interface Forwarder {
  /**
   * Take over an accepted socket whose PROXY header (if any) was consumed. `head` holds
   * payload bytes already read past the header; they go first, byte for byte. The socket
   * is paused. `stackGuard`, when given, has not yet seen any payload: the first bytes go
   * through it, and a PROXY signature there (a header the client stacked) closes the
   * connection before anything reaches the app.
   */
  accept(socket: Socket, client: ClientInfo, head: Buffer, stackGuard?: StackedHeaderGuard | null): void
  /** From now on, ask clients to close their connections after each response (http: Connection: close). */
  announceClose(): void
  /**
   * Ask every connection to finish: http answers in-flight requests with `Connection: close`
   * and closes idle keep-alives; tcp and upgraded connections are left to end. Resolves when
   * none remain. Connections accepted after this are served once, then closed.
   */
  drain(): Promise<void>
  /** Serve normally again after a drain (the pod port reopened after a container restart). */
  resume(): void
  /** Close whatever remains (FIN, then destroy); returns how many were open. */
  abort(): number
  /** Open connections. */
  readonly active: number
  /** Requests received so far (http mode; 0 in tcp mode). */
  readonly requests: number
  close(): Promise<void>
}
