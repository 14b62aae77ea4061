// Small HTTP and raw-socket clients for tests, over real sockets.
import net from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'

export interface RawResponse { status: number; headers: Record<string, string>; body: string; raw: string }

/**
 * Send `bytes` on a fresh connection (optionally from a chosen loopback source address) and
 * collect everything until the server closes. For PROXY headers and malformed requests.
 */
export async function rawExchange(port: number, bytes: Buffer | string, opts: { localAddress?: string; host?: string; timeoutMs?: number; chunks?: number[] } = {}): Promise<{ data: Buffer; closedBy: 'end' | 'reset' | 'timeout' }> {
  const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) })
  await once(socket, 'connect')
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
  const parts: Buffer[] = []
  const done = new Promise<'end' | 'reset' | 'timeout'>((resolve) => {
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout') }, opts.timeoutMs ?? 5000)
    socket.on('data', (d: Buffer) => parts.push(d))
    socket.on('end', () => { clearTimeout(timer); socket.end(); resolve('end') })
    socket.on('error', () => { clearTimeout(timer); resolve('reset') })
    socket.on('close', () => { clearTimeout(timer); resolve('end') })
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
export async function curl(url: string, opts: { interface?: string; args?: string[]; timeoutSeconds?: number } = {}): Promise<{ code: number | null; status: number; body: string; stderr: string }> {
  const args = ['-sS', '--max-time', String(opts.timeoutSeconds ?? 10), '-w', '\n%{http_code}', ...(opts.interface ? ['--interface', opts.interface] : []), ...(opts.args ?? []), url]
  const proc = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = (await once(proc, 'exit')) as [number | null]
  const nl = out.lastIndexOf('\n')
  return { code, status: Number(out.slice(nl + 1)), body: out.slice(0, Math.max(nl, 0)), stderr }
}
