// The paths under test and how each is started. Every proxy runs as its own process on the
// proxy CPU; the app (and the load generator) on the other one. Each proxy accepts plain
// connections on `port` and, where it can read one, connections that start with a PROXY
// v2 header on `ppPort` (drainpipe reads both on one port: --proxy-protocol optional).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, start, waitForPort, waitForStatus, type Machine, type Placement, type Proc } from './processes.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = join(ROOT, 'dist/cli.js')
const HERE = fileURLToPath(new URL('.', import.meta.url))

export type PathId =
  | 'direct'
  | 'drainpipe-tcp'
  | 'drainpipe-http'
  | 'haproxy-tcp'
  | 'haproxy-http'
  | 'http-proxy'
  | 'drainpipe-tcp-base'
  | 'drainpipe-http-base'
  | 'direct-h2c'
  | 'drainpipe-h2c'
  | 'haproxy-h2c'

/** Paths whose clients speak HTTP/2 with prior knowledge (load-h2.ts), to an h2c app. */
export const H2C_PATHS: readonly PathId[] = ['direct-h2c', 'drainpipe-h2c', 'haproxy-h2c']

export interface Target {
  readonly id: PathId
  readonly proc: Proc
  /** Plain connections. */
  readonly port: number
  /** Connections that start with a PROXY v2 header; null when this path cannot read one. */
  readonly ppPort: number | null
  /** drainpipe's admin port. */
  readonly adminPort?: number
}

export const PATH_LABELS: Record<PathId, string> = {
  direct: 'app direct',
  'drainpipe-tcp': 'drainpipe tcp',
  'drainpipe-http': 'drainpipe http',
  'haproxy-tcp': 'HAProxy tcp',
  'haproxy-http': 'HAProxy http',
  'http-proxy': 'http-proxy (Node)',
  'drainpipe-tcp-base': 'drainpipe tcp (--against)',
  'drainpipe-http-base': 'drainpipe http (--against)',
  'direct-h2c': 'app direct, h2c',
  'drainpipe-h2c': 'drainpipe http, h2c both sides',
  'haproxy-h2c': 'HAProxy http, h2c both sides',
}

export async function startApp(machine: Machine, placement: Placement): Promise<Target> {
  const proc = start('app', process.execPath, [join(HERE, 'hello-app.js'), '0'], placement, machine)
  const port = Number((await proc.line(/^listening (\d+)/))[1])
  return { id: 'direct', proc, port, ppPort: null }
}

/** The h2c hello-world app (hello-h2-app.ts). */
export async function startH2App(machine: Machine, placement: Placement): Promise<Target> {
  const proc = start('h2-app', process.execPath, [join(HERE, 'hello-h2-app.js'), '0'], placement, machine)
  const port = Number((await proc.line(/^listening (\d+)/))[1])
  return { id: 'direct-h2c', proc, port, ppPort: null }
}

export interface DrainpipeOptions {
  mode: 'tcp' | 'http'
  upstreamPort: number
  extraArgs?: string[]
  nodeArgs?: string[]
  /** Another build's cli.js (--against: compare two builds in one interleaved run). */
  cli?: string
  id?: PathId
}

export async function startDrainpipe(machine: Machine, placement: Placement, opts: DrainpipeOptions): Promise<Target> {
  const port = await freePort()
  const adminPort = await freePort()
  const proc = start(
    `drainpipe-${opts.mode}`,
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      opts.cli ?? CLI,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--upstream',
      `127.0.0.1:${opts.upstreamPort}`,
      '--mode',
      opts.mode,
      '--proxy-protocol',
      'optional',
      '--log-level',
      'warn',
      ...(opts.extraArgs ?? []),
    ],
    placement,
    machine,
  )
  await waitForStatus(adminPort, '/readyz', 200).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.tail()}`)
  })
  return { id: opts.id ?? `drainpipe-${opts.mode}`, proc, port, ppPort: port, adminPort }
}

/**
 * HAProxy doing the same job as drainpipe: one thread (drainpipe's JS runs on one), PROXY v2
 * accepted on ppPort (`accept-proxy`), and in http mode the same request rewriting — client
 * forwarding fields dropped, X-Forwarded-For/Forwarded/X-Forwarded-Proto/-Port/X-Real-IP
 * set — and app connections shared between clients (`http-reuse always`, as undici's pool).
 */
export async function startHaproxy(
  machine: Machine,
  placement: Placement,
  mode: 'tcp' | 'http',
  upstreamPort: number,
  /** h2c on both sides: `proto h2` on the binds (prior knowledge) and on the server line. */
  h2c = false,
): Promise<Target> {
  const port = await freePort()
  const ppPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'drainpipe-bench-haproxy-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const cfg = join(dir, 'haproxy.cfg')
  const http = mode === 'http'
  writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 1',
      `  maxconn ${Math.max(1000, Math.floor((machine.nofile - 100) / 2))}`,
      'defaults',
      `  mode ${mode}`,
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      ...(http ? ['  timeout http-keep-alive 60s'] : []),
      'frontend plain',
      `  bind 127.0.0.1:${port}${h2c ? ' proto h2' : ''}`,
      '  default_backend app',
      'frontend pp',
      `  bind 127.0.0.1:${ppPort} accept-proxy${h2c ? ' proto h2' : ''}`,
      '  default_backend app',
      'backend app',
      ...(http
        ? [
            '  http-reuse always',
            '  http-request del-header x-forwarded-for',
            '  http-request del-header x-real-ip',
            '  http-request del-header x-amzn-vpce-id',
            '  option forwardfor',
            '  http-request set-header forwarded "for=%[src];proto=http"',
            '  http-request set-header x-forwarded-proto http',
            '  http-request set-header x-forwarded-port %[dst_port]',
            '  http-request set-header x-real-ip %[src]',
          ]
        : []),
      `  server app 127.0.0.1:${upstreamPort}${h2c ? ' proto h2' : ''}`,
      '',
    ].join('\n'),
  )
  const proc = start(h2c ? 'haproxy-h2c' : `haproxy-${mode}`, 'haproxy', ['-db', '-f', cfg], placement, machine)
  // An h2c bind does not answer HTTP/1.1: wait for its port to accept instead.
  await (h2c ? waitForPort(port) : waitForStatus(port, '/', 200)).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.tail()}`)
  })
  return { id: h2c ? 'haproxy-h2c' : `haproxy-${mode}`, proc, port, ppPort }
}

export async function startHttpProxyBaseline(machine: Machine, placement: Placement, upstreamPort: number): Promise<Target> {
  const proc = start('http-proxy', process.execPath, [join(HERE, 'http-proxy-baseline.js'), '0', String(upstreamPort)], placement, machine)
  const port = Number((await proc.line(/^listening (\d+)/))[1])
  return { id: 'http-proxy', proc, port, ppPort: null }
}
