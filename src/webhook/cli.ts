// `drainpipe webhook`: the mutating admission webhook, injecting drainpipe into pods as
// `drainpipe inject` would. Flags: --webhook-listen, --tls-cert, --tls-key, and every inject
// setting (the fleet's defaults; pod annotations still win).
import { parseArgs, UsageError } from '../inject/args.js'
import { newToken } from '../inject/token.js'
import { createWebhookServer } from './server.js'

const OWN = ['webhook-listen', 'tls-cert', 'tls-key']

export async function runWebhook(argv: readonly string[], version: string): Promise<number> {
  const log = (line: string) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: line })}\n`)
  let args
  try {
    args = parseArgs(argv, OWN)
    if (args.positional.length > 0) throw new UsageError(`unexpected argument ${args.positional[0]}`)
    for (const f of ['tls-cert', 'tls-key'])
      if (!args.help && !args.own.has(f)) throw new UsageError(`--${f} FILE is required (PEM; from cert-manager or the chart)`)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`drainpipe webhook: ${err.message}\n`)
    return 2
  }
  if (args.help) {
    process.stdout.write(
      [
        'Usage: drainpipe webhook --tls-cert FILE --tls-key FILE [--webhook-listen HOST:PORT] [inject settings]',
        '',
        'Serves AdmissionReview v1 on POST /mutate/namespace (pods of namespaces labelled drainpipe.io/inject=enabled)',
        'and /mutate/annotated (pods annotated drainpipe.io/inject: "true"), GET /healthz. Default listen 0.0.0.0:8443.',
        'Inject settings: see drainpipe inject --help.',
        '',
      ].join('\n'),
    )
    return 0
  }
  const listen = args.own.get('webhook-listen') ?? '0.0.0.0:8443'
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(listen)
  if (!m || Number(m[2]) > 65535) {
    process.stderr.write(`drainpipe webhook: invalid --webhook-listen ${JSON.stringify(listen)}: expected HOST:PORT or PORT\n`)
    return 2
  }
  let server
  try {
    server = createWebhookServer({
      certFile: args.own.get('tls-cert')!,
      keyFile: args.own.get('tls-key')!,
      given: args.settings,
      version,
      newToken,
      log,
    })
  } catch (err) {
    process.stderr.write(`drainpipe webhook: cannot load the certificate: ${(err as Error).message}\n`)
    return 1
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(m[2]), m[1] || '0.0.0.0', resolve)
  })
  const addr = server.address()
  log(`drainpipe ${version} webhook listening on ${typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : listen}`)
  // Serve until SIGTERM; the API server retries elsewhere (2 replicas), failurePolicy Ignore covers the rest.
  await new Promise<void>((resolve) => {
    const stop = () => {
      log('stopping')
      server.close(() => resolve())
      server.closeIdleConnections()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  return 0
}
