// The admission webhook's HTTPS server. POST /mutate/namespace and /mutate/annotated take an
// AdmissionReview; GET /healthz answers 200 (the Deployment's probes). The certificate and key
// are re-read when their files change (cert-manager renews them in place).
import { createServer, type Server } from 'node:https'
import { readFileSync, watchFile, unwatchFile } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadReview, review, type ReviewOptions, type Selection } from './review.js'

export interface WebhookServerOptions extends ReviewOptions {
  certFile: string
  keyFile: string
  /** largest request body accepted; the API server sends at most 3 MiB objects */
  maxBodyBytes?: number
  log(line: string): void
}

const ROUTES: Record<string, Selection> = { '/mutate/namespace': 'namespace', '/mutate/annotated': 'annotated' }

export function createWebhookServer(opts: WebhookServerOptions): Server {
  const tls = () => ({ cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile) })
  const server = createServer(tls(), (req, res) => void handle(req, res, opts))
  const reload = () => {
    try {
      server.setSecureContext(tls())
      opts.log('certificate reloaded')
    } catch (err) {
      opts.log(`certificate reload failed, keeping the previous one: ${(err as Error).message}`)
    }
  }
  watchFile(opts.certFile, { interval: 10_000 }, reload)
  server.on('close', () => unwatchFile(opts.certFile, reload))
  return server
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://webhook')
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true })
  const selection = ROUTES[url.pathname]
  if (!selection) return send(res, 404, { error: `no route ${url.pathname}` })
  if (req.method !== 'POST') return send(res, 405, { error: 'POST an AdmissionReview' })
  const max = opts.maxBodyBytes ?? 6 * 1024 * 1024
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) return send(res, 413, { error: `body over ${max} bytes` })
    chunks.push(chunk as Buffer)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return send(res, 400, { error: 'body is not JSON' })
  }
  try {
    const answer = review(body, selection, opts)
    if (answer.response.warnings) opts.log(`uid ${answer.response.uid}: ${answer.response.warnings.join(' | ')}`)
    return send(res, 200, answer)
  } catch (err) {
    if (err instanceof BadReview) return send(res, 400, { error: err.message })
    opts.log(`review failed: ${(err as Error).stack ?? err}`)
    return send(res, 500, { error: 'internal error' })
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
