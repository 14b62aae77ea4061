// HTTP/2 with prior knowledge (RFC 9113 §3.3), as gRPC speaks it over plaintext: the client's
// first bytes are the connection preface. The http forwarder reads a connection's first payload
// bytes here and serves it as HTTP/2 on a full preface, as HTTP/1.1 at the first byte that
// differs (the common case decides on the first byte: no request method starts with "PRI *");
// the health responder does the same for a LOCAL connection.
import type { Socket } from 'node:net'

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/** How long a connection whose bytes so far are a strict prefix of the preface may take to decide (then it is HTTP/1.1's to judge). */
export const PREFACE_WAIT_MS = 60_000

export type Protocol = 'h2' | 'h1'

/** h2 on a full preface, h1 at the first byte that differs, 'more' while `bytes` is a strict prefix of it. */
export function prefaceMatch(bytes: Buffer): Protocol | 'more' {
  const n = Math.min(bytes.length, H2_PREFACE.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== H2_PREFACE[i]) return 'h1'
  return n === H2_PREFACE.length ? 'h2' : 'more'
}

/**
 * Decide the protocol of a paused client socket whose first payload bytes are `head`; calls
 * `decided` once, with every byte read so far (to go first, before the socket's own), the
 * socket paused again. A connection that ends before deciding is destroyed; one that stalls on
 * a strict prefix past PREFACE_WAIT_MS goes to HTTP/1.1, whose own timeouts then apply.
 */
export function detectProtocol(socket: Socket, head: Buffer, decided: (protocol: Protocol, head: Buffer) => void): void {
  const first = prefaceMatch(head)
  if (first !== 'more') {
    decided(first, head)
    return
  }
  let bytes = head
  const done = (protocol: Protocol) => {
    clearTimeout(timer)
    socket.pause()
    socket.removeListener('data', onData)
    socket.removeListener('end', onGone)
    socket.removeListener('error', onGone)
    decided(protocol, bytes)
  }
  const onData = (chunk: Buffer) => {
    bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk])
    const m = prefaceMatch(bytes)
    if (m !== 'more') done(m)
  }
  const onGone = () => {
    clearTimeout(timer)
    socket.destroy()
  }
  const timer = setTimeout(() => done('h1'), PREFACE_WAIT_MS)
  timer.unref()
  socket.on('data', onData)
  socket.once('end', onGone)
  socket.once('error', onGone)
  socket.resume()
}
