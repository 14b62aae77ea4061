// An HTTP app for tests that must prove what reached it: every byte each connection
// received is recorded raw (before any parsing), and every request it parsed is listed.
// Each request is answered 200 with a small JSON body naming the request's headers.
import http, { type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface RecordedRequest {
  method: string
  url: string
  rawHeaders: string[]
  body: Buffer
}

export interface RecordingUpstream {
  readonly port: number
  readonly host: string
  /** Raw bytes per accepted connection, in accept order. */
  readonly connections: Buffer[][]
  readonly requests: RecordedRequest[]
  /** Everything every connection received, concatenated (latin1 text). */
  received(): string
  close(): Promise<void>
}

export async function startRecordingUpstream(
  t: Teardown,
  opts: { host?: string; respond?: (req: IncomingMessage, body: Buffer) => { status?: number; body?: string } } = {},
): Promise<RecordingUpstream> {
  const connections: Buffer[][] = []
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body })
      const answer = opts.respond?.(req, body) ?? {}
      const text = answer.body ?? JSON.stringify({ url: req.url, headers: req.rawHeaders, bytes: body.length })
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  server.on('connection', (socket: Socket) => {
    const chunks: Buffer[] = []
    connections.push(chunks)
    sockets.add(socket)
    socket.on('data', (d: Buffer) => chunks.push(Buffer.from(d)))
    socket.once('close', () => sockets.delete(socket))
  })
  // Malformed input reaching the app is recorded above; answer it like any strict server.
  server.on('clientError', (_err, socket: Socket) => socket.destroy())
  server.listen(0, opts.host ?? '127.0.0.1')
  await once(server, 'listening')
  const close = async () => {
    if (!server.listening) return
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    port: (server.address() as AddressInfo).port,
    host: opts.host ?? '127.0.0.1',
    connections,
    requests,
    received: () => Buffer.concat(connections.flat()).toString('latin1'),
    close,
  }
}
