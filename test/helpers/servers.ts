// Small in-process servers for tests, on real loopback sockets, closed in t.teardown.
import net from 'node:net'
import { once } from 'node:events'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface TcpServer {
  readonly port: number
  readonly host: string
  /** Every accepted socket, in order. */
  readonly sockets: net.Socket[]
  /** Accepted connections so far. */
  readonly accepted: number
  readonly server: net.Server
}

/** A raw TCP server; `onConnection` gets each socket (allowHalfOpen is on). */
export async function startTcpServer(
  t: Teardown,
  onConnection: (socket: net.Socket) => void = () => {},
  host = '127.0.0.1',
): Promise<TcpServer> {
  const sockets: net.Socket[] = []
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    onConnection(socket)
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return {
    port: (server.address() as net.AddressInfo).port,
    host,
    sockets,
    get accepted() {
      return sockets.length
    },
    server,
  }
}

/** Raw header pairs → lower-cased name → values in order. */
export function headerMap(rawHeaders: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase()
    out.set(k, [...(out.get(k) ?? []), rawHeaders[i + 1]!])
  }
  return out
}
