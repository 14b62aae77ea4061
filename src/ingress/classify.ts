// The first bytes of a pod-port connection decide what it is. This module reads them
// (the PROXY header, streamed through HeaderReader) and reports exactly one outcome:
//   client     a PROXY header from a trusted source, or (optional/off mode) no header
//   local      a PROXY v2 LOCAL header: a load-balancer health check
//   empty      closed without sending a byte: a TCP health check
//   refused    closed by us: bad/missing/untrusted header, a stacked header, or the header timeout
// It owns the whole PROXY decision, the stacked-header check included: what a forwarder gets
// is a clean connection whose every byte is payload.
// Data flows one way: socket → header reader → this classifier → a forwarder.
import type { Socket } from 'node:net'
import { HeaderReader, StackedHeaderGuard, type ReaderOptions } from '../proxy-protocol/reader.js'
import type { ProxyHeader } from '../proxy-protocol/header.js'
import { ProxyProtocolError } from '../proxy-protocol/errors.js'
import type { SourcePolicy } from '../proxy-protocol/policy.js'

export type RefusedBy = 'header_timeout' | 'untrusted_source' | ProxyProtocolError

export interface ClassifySink {
  /**
   * A client: `head` is the payload read past the header. The socket is paused and yields
   * payload only (see holdFirstBytes for the one case where the check is still running).
   */
  client(socket: Socket, header: ProxyHeader | null, head: Buffer): void
  /**
   * A client's PROXY header arrived alone and the connection then ended (or idled past the
   * header timeout) before any payload: the load balancer did open it, so it counts as an
   * arrival, but there is nothing to forward.
   */
  abandoned(socket: Socket, header: ProxyHeader, by: 'closed' | 'header_timeout'): void
  local(socket: Socket, head: Buffer): void
  empty(socket: Socket): void
  /** Closed by us. Follows `client` when a client handed over early stacked a header (holdFirstBytes). */
  refused(socket: Socket, by: RefusedBy): void
}

export interface ClassifyOptions {
  reader: ReaderOptions
  headerTimeoutMs: number
  /** Hand over before the first byte (tcp mode without PROXY protocol: server-speaks-first apps). */
  eager: boolean
  /**
   * The client always speaks first (http mode): when the header came alone, wait here (within
   * the header timeout) for the first payload bytes to finish the stacked-header check.
   * Otherwise (tcp: server-speaks-first protocols) hand over at once, holding the first bytes.
   */
  clientSpeaksFirst: boolean
}

const EMPTY = Buffer.alloc(0)

/** Connections whose PROXY header came alone and that have sent nothing since. */
const headerOnly = new WeakSet<Socket>()

/**
 * Nothing but a PROXY header arrived on this connection, which is still being classified
 * (http mode; the NLB with on_first_ack placement, HAProxy): nothing is in flight on it.
 */
export function sentOnlyHeader(socket: Socket): boolean {
  return headerOnly.has(socket)
}

export function classify(socket: Socket, policy: SourcePolicy, opts: ClassifyOptions, sink: ClassifySink): void {
  if (policy === 'reject') {
    sink.refused(socket, 'untrusted_source')
    return
  }
  if (policy === 'skip' && opts.eager) {
    socket.pause()
    sink.client(socket, null, EMPTY)
    return
  }
  const reader = policy === 'skip' ? null : new HeaderReader(opts.reader)
  let settled = false
  // Set once a header was read whose stacked-header check waits for the first payload bytes.
  let guard: StackedHeaderGuard | null = null
  let header: ProxyHeader | null = null

  const settle = () => {
    settled = true
    headerOnly.delete(socket)
    clearTimeout(timer)
    socket.pause()
    socket.removeListener('data', onData)
    socket.removeListener('end', onGone)
    socket.removeListener('close', onGone)
    socket.removeListener('error', onGone)
  }

  const onData = (chunk: Buffer) => {
    if (settled) return
    if (reader === null) {
      settle()
      sink.client(socket, null, chunk)
      return
    }
    if (guard !== null) {
      headerOnly.delete(socket)
      const g = guard.push(chunk)
      if (g.kind === 'more') return
      settle()
      if (g.kind === 'error') sink.refused(socket, g.error)
      else sink.client(socket, header, g.rest)
      return
    }
    const r = reader.push(chunk)
    switch (r.kind) {
      case 'more':
        return
      case 'none':
        settle()
        if (policy === 'require')
          sink.refused(
            socket,
            new ProxyProtocolError(
              'bad_signature',
              'connection from a trusted proxy did not start with a PROXY header (--proxy-protocol required)',
            ),
          )
        else sink.client(socket, null, r.rest)
        return
      case 'error':
        settle()
        sink.refused(socket, r.error)
        return
      case 'header':
        if (policy !== 'refuse-header' && r.header.command === 'PROXY' && r.stackCheckPending && opts.clientSpeaksFirst) {
          // Keep reading: the client's first bytes decide whether it stacked a header of its own.
          guard = new StackedHeaderGuard()
          header = r.header
          headerOnly.add(socket) // (a pending check means no payload came with the header)
          return
        }
        settle()
        if (policy === 'refuse-header')
          sink.refused(
            socket,
            new ProxyProtocolError('untrusted_header', `PROXY header from ${socket.remoteAddress}, which is not in --trusted-proxies`),
          )
        else if (r.header.command === 'LOCAL') sink.local(socket, r.rest)
        else {
          if (r.stackCheckPending) holdFirstBytes(socket, (err) => sink.refused(socket, err))
          sink.client(socket, r.header, r.rest)
        }
    }
  }

  // FIN, RST or an error before the classifier decided. With no byte read it is a
  // health check (the NLB's TCP probe connects and closes); otherwise a truncated header.
  const onGone = () => {
    if (settled) return
    const sawBytes = socket.bytesRead > 0
    settle()
    if (!sawBytes) sink.empty(socket)
    else if (guard !== null) sink.abandoned(socket, header!, 'closed')
    else sink.refused(socket, new ProxyProtocolError('truncated', 'connection ended inside a PROXY header'))
  }

  const timer = setTimeout(() => {
    if (settled) return
    settle()
    if (guard !== null) sink.abandoned(socket, header!, 'header_timeout')
    else sink.refused(socket, 'header_timeout')
  }, opts.headerTimeoutMs)

  socket.on('data', onData)
  socket.on('end', onGone)
  socket.on('close', onGone)
  socket.on('error', onGone)
}

/**
 * tcp mode, a PROXY header that came alone: the forwarder takes the connection at once (the app
 * may speak first), and the client's first bytes pass the stacked-header check before they
 * enter the socket's stream. The check sits in the socket's push(), where net hands the stream
 * what it read (and null at the end), for as long as it is undecided (at most a signature's 11
 * bytes held): whoever reads the socket (pipe, 'data') sees checked payload only. A FIN before
 * the decision makes what was held payload: it is not a complete signature.
 */
function holdFirstBytes(socket: Socket, stacked: (err: ProxyProtocolError) => void): void {
  const guard = new StackedHeaderGuard()
  const push = socket.push
  const decided = (rest: Buffer): boolean => {
    socket.push = push
    return rest.length > 0 ? socket.push(rest) : true
  }
  socket.push = (chunk: Buffer | null): boolean => {
    if (chunk === null) {
      const g = guard.end()
      decided(g.kind === 'payload' ? g.rest : EMPTY)
      return socket.push(null)
    }
    const g = guard.push(chunk)
    if (g.kind === 'more') return true
    if (g.kind === 'payload') return decided(g.rest)
    socket.push = push
    stacked(g.error)
    return false
  }
}
