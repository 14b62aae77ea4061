// The stacked-header check on a forwarded connection whose PROXY header came alone: the
// client's first payload bytes go through the guard before anything is sent to the app. A
// PROXY signature there is a header the client sent itself (the NLB does not strip it).
import type { Socket } from 'node:net'
import type { StackedHeaderGuard } from '../proxy-protocol/reader.js'
import type { ProxyProtocolError } from '../proxy-protocol/errors.js'

/**
 * Read from `socket` (flowing) until `guard` decides. `payload` gets the bytes it held back
 * (possibly empty) with the socket paused again; `stacked` gets the error. A FIN before the
 * decision is payload: what was held back is not a complete signature.
 */
export function checkFirstBytes(socket: Socket, guard: StackedHeaderGuard, payload: (rest: Buffer, ended: boolean) => void, stacked: (err: ProxyProtocolError) => void): void {
  const done = () => {
    socket.removeListener('data', onData)
    socket.removeListener('end', onEnd)
    socket.pause()
  }
  const onData = (chunk: Buffer) => {
    const g = guard.push(chunk)
    if (g.kind === 'more') return
    done()
    if (g.kind === 'error') stacked(g.error)
    else payload(g.rest, false)
  }
  const onEnd = () => {
    done()
    const g = guard.end()
    payload(g.kind === 'payload' ? g.rest : Buffer.alloc(0), true)
  }
  socket.on('data', onData)
  socket.once('end', onEnd)
  socket.resume()
}
