// Small HTTP and raw-socket clients for tests, over real sockets.
import net from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  raw: string
}

/**
 * Send `bytes` on a fresh connection (optionally from a chosen loopback source address) and
 * collect everything until the server closes. For PROXY headers and malformed requests.
 */
export async function rawExchange(
  port: number,
  bytes: Buffer | string,
  opts: { localAddress?: string; host?: string; timeoutMs?: number; chunks?: number[] } = {},
): Promise<{ data: Buffer; closedBy: 'end' | 'reset' | 'timeout' }> {
  const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) })
  await once(socket, 'connect')
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
  const parts: Buffer[] = []
  const done = new Promise<'end' | 'reset' | 'timeout'>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy()
      resolve('timeout')
    }, opts.timeoutMs ?? 5000)
    socket.on('data', (d: Buffer) => parts.push(d))
    socket.on('end', () => {
      clearTimeout(timer)
      socket.end()
      resolve('end')
    })
    socket.on('error', () => {
      clearTimeout(timer)
      resolve('reset')
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve('end')
    })
  })
  if (opts.chunks) {
    let off = 0
    for (const n of opts.chunks) {
      socket.write(buf.subarray(off, off + n))
      off += n
      await new Promise((r) => setTimeout(r, 5))
    }
    if (off < buf.length) socket.write(buf.subarray(off))
  } else socket.write(buf)
  const closedBy = await done
  return { data: Buffer.concat(parts), closedBy }
}

export function parseResponse(data: Buffer): RawResponse {
  const raw = data.toString('latin1')
  const end = raw.indexOf('\r\n\r\n')
  const head = end === -1 ? raw : raw.slice(0, end)
  const [statusLine, ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const i = l.indexOf(':')
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
  }
  return { status: Number(statusLine?.split(' ')[1] ?? 0), headers, body: end === -1 ? '' : raw.slice(end + 4), raw }
}

/** GET on a fresh connection; resolves with status, headers and body text. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, headers: res.headers, body: await res.text() }
}

/**
 * The real curl, as a client from a chosen source address (`--interface 127.0.0.7`).
 * Resolves with curl's exit code, the body, and the status from `-w`.
 */
export async function curl(
  url: string,
  opts: { interface?: string; args?: string[]; timeoutSeconds?: number } = {},
): Promise<{ code: number | null; status: number; body: string; stderr: string }> {
  const args = [
    '-sS',
    '--max-time',
    String(opts.timeoutSeconds ?? 10),
    '-w',
    '\n%{http_code}',
    ...(opts.interface ? ['--interface', opts.interface] : []),
    ...(opts.args ?? []),
    url,
  ]
  const proc = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  const [code] = (await once(proc, 'exit')) as [number | null]
  const nl = out.lastIndexOf('\n')
  return { code, status: Number(out.slice(nl + 1)), body: out.slice(0, Math.max(nl, 0)), stderr }
}

/**
 * One client connection driven by hand: write raw bytes (a PROXY header, pipelined
 * requests), read responses one at a time (content-length, chunked, or head only).
 */
export class RawConnection {
  readonly socket: net.Socket
  #buf = Buffer.alloc(0)
  #ended = false
  #wake: (() => void) | null = null

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d])
      this.#wake?.()
    })
    socket.on('end', () => {
      this.#ended = true
      this.#wake?.()
    })
    socket.on('close', () => {
      this.#ended = true
      this.#wake?.()
    })
    socket.on('error', () => {
      this.#ended = true
      this.#wake?.()
    })
  }

  static async open(port: number, opts: { localAddress?: string; host?: string } = {}): Promise<RawConnection> {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) })
    await once(socket, 'connect')
    return new RawConnection(socket)
  }

  write(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  }

  /** True once the server ended or reset the connection. */
  get ended(): boolean {
    return this.#ended
  }

  /** Wait until `ready(buffered)` returns a byte count to take, or the connection ends or the timeout passes. */
  async take(ready: (buf: Buffer) => number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const n = ready(this.#buf)
      if (n > 0) {
        const out = this.#buf.subarray(0, n)
        this.#buf = this.#buf.subarray(n)
        return out
      }
      if (this.#ended)
        throw Object.assign(
          new Error(
            `connection ended with ${this.#buf.length} unread bytes: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 200))}`,
          ),
          { code: 'ERR_TEST_ENDED' },
        )
      const left = deadline - Date.now()
      if (left <= 0)
        throw Object.assign(new Error(`timed out; buffered: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 200))}`), {
          code: 'ERR_TEST_TIMEOUT',
        })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          this.#wake = null
          resolve()
        }
      })
    }
  }

  /** Exactly n bytes. */
  read(n: number, timeoutMs?: number): Promise<Buffer> {
    return this.take((b) => (b.length >= n ? n : 0), timeoutMs)
  }

  /** The next response; a 1xx or `headOnly` response is returned without a body. */
  async readResponse(opts: { headOnly?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const head = await this.take((b) => {
      const i = b.indexOf('\r\n\r\n')
      return i === -1 ? 0 : i + 4
    }, opts.timeoutMs)
    const res = parseResponse(head)
    if (opts.headOnly || res.status < 200 || res.status === 204 || res.status === 304) return res
    let body: Buffer
    if (res.headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      body = Buffer.alloc(0)
      for (;;) {
        const line = await this.take((b) => {
          const i = b.indexOf('\r\n')
          return i === -1 ? 0 : i + 2
        }, opts.timeoutMs)
        const size = parseInt(line.toString('latin1'), 16)
        const chunk = await this.read(size + 2, opts.timeoutMs)
        if (size === 0) break
        body = Buffer.concat([body, chunk.subarray(0, size)])
      }
    } else {
      const length = Number(res.headers['content-length'] ?? 0)
      body = length > 0 ? Buffer.from(await this.read(length, opts.timeoutMs)) : Buffer.alloc(0)
    }
    return { ...res, body: body.toString('latin1'), raw: res.raw + body.toString('latin1') }
  }

  /** Resolves once the server closed the connection (or the timeout). */
  async closed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.#ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    return this.#ended
  }

  close(): void {
    this.socket.destroy()
  }
}
