// Who a forwarded connection belongs to: the client the load balancer saw (from the PROXY
// header) or, without a header, the socket's own peer.
import type { Socket } from 'node:net'
import type { ProxyHeader } from '../proxy-protocol/header.js'
import { unmapped } from '../proxy-protocol/address.js'

export interface ClientInfo {
  /** The client: PROXY header source, else the socket peer. */
  readonly address: string
  readonly port: number
  /** Where the client connected to: PROXY header destination, else our local endpoint. */
  readonly destAddress: string
  readonly destPort: number
  /** The socket peer: the load balancer node when a header was used. */
  readonly peerAddress: string
  /** The header, when one was used. */
  readonly header: ProxyHeader | null
}

/**
 * A classified client connection, as a forwarder receives it (ingress/classify.ts): the socket
 * is paused, its PROXY header consumed and checked; what it yields from here on is payload,
 * after `head` (the payload read with the header).
 */
export interface ClientConnection {
  readonly socket: Socket
  readonly client: ClientInfo
  readonly head: Buffer
}

export function clientInfo(socket: Socket, header: ProxyHeader | null): ClientInfo {
  const peerAddress = unmapped(socket.remoteAddress ?? '')
  const src = header?.source
  const dst = header?.destination
  return {
    address: src ? src.address : peerAddress,
    port: src ? src.port : (socket.remotePort ?? 0),
    destAddress: dst ? dst.address : unmapped(socket.localAddress ?? ''),
    destPort: dst ? dst.port : (socket.localPort ?? 0),
    peerAddress,
    header,
  }
}
