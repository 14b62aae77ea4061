// What ingress hands connections to, and what lifecycle commands during a drain.
import type { ClientConnection } from '../ingress/client-info.js'

export interface Forwarder {
  /**
   * Take over a classified client connection: its PROXY header (if any) consumed and checked
   * by the classifier, stacked headers included. `head` holds payload bytes already read past
   * the header; they go first, byte for byte. The socket is paused and yields payload only.
   */
  accept(conn: ClientConnection): void
  /** From now on, ask clients to close their connections after each response (http: Connection: close; HTTP/2: the graceful GOAWAY). */
  announceClose(): void
  /**
   * Ask every connection to finish: http answers in-flight requests with `Connection: close`
   * and closes idle keep-alives, HTTP/2 connections get the graceful GOAWAY; tcp and upgraded
   * connections are left to end. Resolves when none remain. Connections accepted after this are
   * served once, then closed.
   */
  drain(): Promise<void>
  /** Serve normally again after a drain (the pod port reopened after a container restart). */
  resume(): void
  /** Close whatever remains (FIN, then destroy); returns how many were open. */
  abort(): number
  /** Open connections. */
  readonly active: number
  /** Requests received so far (http mode, HTTP/2 streams included; 0 in tcp mode). */
  readonly requests: number
  close(): Promise<void>
}
