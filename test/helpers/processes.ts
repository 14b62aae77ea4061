// Real child processes for tests: the example app, drainpipe (node dist/cli.js) and
// HAProxy. Every process started here is killed in t.teardown.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = join(ROOT, 'dist/cli.js')

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface Child {
  readonly proc: ChildProcess
  /** JSON lines printed on stdout, parsed (other lines are kept as { text }). */
  readonly logs: Array<Record<string, unknown>>
  stderr(): string
  readonly exited: Promise<Exit>
  /** Resolves with the first log line (past or future) matching. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

function track(t: Teardown, proc: ChildProcess, what: string): Child {
  const logs: Array<Record<string, unknown>> = []
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = []
  let stderr = ''
  let pending = ''
  proc.stdout!.setEncoding('utf8')
  proc.stdout!.on('data', (text: string) => {
    pending += text
    for (let eol = pending.indexOf('\n'); eol !== -1; eol = pending.indexOf('\n')) {
      const line = pending.slice(0, eol)
      pending = pending.slice(eol + 1)
      let obj: Record<string, unknown>
      try {
        obj = JSON.parse(line) as Record<string, unknown>
      } catch {
        obj = { text: line }
      }
      logs.push(obj)
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.match(obj)) {
          waiters[i]!.resolve(obj)
          waiters.splice(i, 1)
        }
      }
    }
  })
  proc.stderr!.setEncoding('utf8')
  proc.stderr!.on('data', (text: string) => {
    stderr += text
  })
  const exited = once(proc, 'close').then(([code, signal]) => ({ code, signal }) as Exit)
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
  })
  return {
    proc,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 10_000) {
      const found = logs.find(match)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `${what}: no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}; last logs: ${JSON.stringify(logs.slice(-5))}`,
              ),
            ),
          timeoutMs,
        )
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer)
            resolve(l)
          },
        })
        void exited.then((e) => {
          clearTimeout(timer)
          reject(
            new Error(
              `${what} exited (${e.code ?? e.signal}) before the expected log line; stderr: ${stderr.slice(-800)}; last logs: ${JSON.stringify(logs.slice(-3))}`,
            ),
          )
        })
      })
    },
  }
}

export interface App extends Child {
  readonly port: number
  readonly host: string
}

/** examples/http-app.mjs on a free port. */
export async function startApp(
  t: Teardown,
  opts: { host?: string; port?: number; name?: string; onSigterm?: 'close' | 'exit' } = {},
): Promise<App> {
  const host = opts.host ?? '127.0.0.1'
  const proc = spawn(
    process.execPath,
    [
      join(ROOT, 'examples/http-app.mjs'),
      '--host',
      host,
      '--port',
      String(opts.port ?? 0),
      '--name',
      opts.name ?? 'app',
      '--on-sigterm',
      opts.onSigterm ?? 'close',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const child = track(t, proc, 'app')
  const line = await child.waitForLog((l) => l.msg === 'listening')
  return { ...child, host, port: (line.address as { port: number }).port }
}

export interface Drainpipe extends Child {
  readonly port: number
  readonly adminPort: number
  readonly url: string
  readonly adminUrl: string
  /** Resolves once /readyz answered 200 at least once (state ready). */
  ready(timeoutMs?: number): Promise<void>
}

/**
 * `node dist/cli.js` with the given flags. --listen and --admin default to 127.0.0.1:0;
 * the bound ports are read from the 'listening' log line.
 */
export async function startDrainpipe(
  t: Teardown,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv
    waitReady?: boolean
    nofile?: number
    /** Node flags before the CLI, with the test runner's NODE_OPTIONS (its preloads) removed: a process as a pod runs it. */
    bareNodeArgs?: string[]
  } = {},
): Promise<Drainpipe> {
  const full = [...args]
  const has = (flag: string) => full.some((a) => a === flag || a.startsWith(`${flag}=`))
  if (!has('--listen')) full.push('--listen', '127.0.0.1:0')
  // Tests that are not about the lag bound: without traffic history a termination ends as soon
  // as the quiet window allows (the default, 180 s, is the NLB's lag; test/lifecycle/decision.test.ts
  // covers it).
  if (!has('--lb-lag-max')) full.push('--lb-lag-max', '0')
  if (!has('--admin')) full.push('--admin', '127.0.0.1:0')
  // nofile: start under `ulimit -n N` (bash execs node, so the pid is drainpipe's own).
  // tap re-adds its preload to NODE_OPTIONS of every child it sees spawned; env(1) removes it
  // between the spawn and node.
  const proc = opts.bareNodeArgs
    ? spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, ...opts.bareNodeArgs, CLI, ...full], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...opts.env },
      })
    : opts.nofile === undefined
      ? spawn(process.execPath, [CLI, ...full], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
      : spawn('bash', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, process.execPath, CLI, ...full], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...opts.env },
        })
  const child = track(t, proc, 'drainpipe')
  const line = await child.waitForLog((l) => l.msg === 'listening')
  const port = (line.listen as { port: number }).port
  const adminPort = (line.admin as { port: number }).port
  const dp: Drainpipe = {
    ...child,
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    ready: (timeoutMs = 10_000) => child.waitForLog((l) => l.from === 'starting' && l.to === 'ready', timeoutMs).then(() => undefined),
  }
  if (opts.waitReady !== false) await dp.ready()
  return dp
}

/**
 * Run drainpipe to completion (for --help, bad flags). A run that has not exited after
 * `timeoutMs` (say, a bad value that was accepted and drainpipe started serving) is killed
 * and reported with code null.
 */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 15_000)
  const [code] = (await once(proc, 'exit')) as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** A free TCP port on 127.0.0.1 (for configs that cannot take port 0, such as HAProxy's). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer()
  server.listen(0, host)
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  server.close()
  await once(server, 'close')
  return port
}

/**
 * Why a test that needs these programs cannot run here, or false when they are all on PATH.
 * Pass it as `{ skip: needs('haproxy') }`: the reason shows in `npm test`'s summary, and CI
 * (DRAINPIPE_TEST_REQUIRE=haproxy,curl in .ci/run) fails on such a skip.
 */
export function needs(...programs: Array<'haproxy' | 'curl' | 'helm'>): string | false {
  for (const p of programs)
    onPath[p] ??= spawnSync(p, [p === 'haproxy' ? '-v' : p === 'helm' ? 'version' : '--version'], { stdio: 'ignore' }).error === undefined
  const absent = programs.filter((p) => !onPath[p])
  const install = absent.map((p) => (p === 'helm' ? 'bash scripts/install-helm.sh' : `apt-get install ${p}`)).join('; ')
  return absent.length === 0 ? false : `needs ${absent.join(' and ')}: not found on PATH (${install})`
}
const onPath: Partial<Record<string, boolean>> = {}

export interface Haproxy extends Child {
  readonly port: number
}

/**
 * HAProxy in front of `target`, sending PROXY v2 (`send-proxy-v2`) in tcp mode. Extra
 * server options (e.g. 'send-proxy' for v1) replace the default.
 */
export async function startHaproxy(
  t: Teardown,
  target: { host: string; port: number },
  opts: { serverOptions?: string; mode?: 'tcp' | 'http' } = {},
): Promise<Haproxy> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'drainpipe-haproxy-'))
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      `  mode ${opts.mode ?? 'tcp'}`,
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      `  server s1 ${target.host}:${target.port} ${opts.serverOptions ?? 'send-proxy-v2'}`,
      '',
    ].join('\n'),
  )
  const proc = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] })
  const child = track(t, proc, 'haproxy')
  // Not waitForPort: a probe connection would make HAProxy open a connection to the target
  // (with a PROXY header) that the test did not make.
  await waitForListening(port)
  return { ...child, port }
}

/**
 * Resolves once something listens on 127.0.0.1:`port`, without connecting to it (Linux:
 * reads the LISTEN sockets in /proc/net/tcp).
 */
export async function waitForListening(port: number, timeoutMs = 5000): Promise<void> {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const table = readFileSync('/proc/net/tcp', 'latin1')
    if (
      table.split('\n').some((l) => {
        const f = l.trim().split(/\s+/)
        return f[1] === want && f[3] === '0A'
      })
    )
      return
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
