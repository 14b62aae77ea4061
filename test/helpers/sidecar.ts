// drainpipe started in the test's own process with startSidecar, for tests where no process
// boundary matters (the data path, the admin port, classification, header policy). Same shape
// as a `startDrainpipe` child: ports, URLs, parsed log lines, waitForLog, ready().
//
// Keep a child process (helpers/processes.ts) where the boundary is the point: the CLI and its
// exit codes, signals, `ulimit -n`, drainpipe's own RSS or CPU, and load heavy enough that
// sharing the event loop with the load generator would change what is measured.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { parseConfig } from '../../src/config.js'
import { startSidecar, type Sidecar } from '../../src/sidecar.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface InProcessDrainpipe {
  readonly sidecar: Sidecar
  readonly port: number
  readonly adminPort: number
  readonly url: string
  readonly adminUrl: string
  /** Log lines as drainpipe wrote them (pino JSON), parsed. */
  readonly logs: Array<Record<string, unknown>>
  /** Resolves with the first log line (past or future) matching. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  /** Resolves once drainpipe is ready (the app was reachable). */
  ready(timeoutMs?: number): Promise<void>
}

/**
 * The CLI's flags, parsed by the same parseConfig; --listen and --admin default to
 * 127.0.0.1:0. Closed in t.teardown.
 */
export async function startInProcess(
  t: Teardown,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; waitReady?: boolean } = {},
): Promise<InProcessDrainpipe> {
  const full = [...args]
  const has = (flag: string) => full.some((a) => a === flag || a.startsWith(`${flag}=`))
  if (!has('--listen')) full.push('--listen', '127.0.0.1:0')
  if (!has('--admin')) full.push('--admin', '127.0.0.1:0')
  const parsed = parseConfig(full, opts.env ?? {})
  if (parsed.kind !== 'config') throw new Error(`startInProcess: ${parsed.kind} is for the CLI`)

  const logs: Array<Record<string, unknown>> = []
  const waiters = new Set<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>()
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (!text) continue
        const line = JSON.parse(text) as Record<string, unknown>
        logs.push(line)
        for (const w of waiters)
          if (w.match(line)) {
            waiters.delete(w)
            w.resolve(line)
          }
      }
      done()
    },
  })
  // The options of src/log.ts's createLogger, written to the sink instead of stdout.
  const logger = pino({ level: parsed.config.logLevel, base: { name: 'drainpipe' }, timestamp: pino.stdTimeFunctions.isoTime }, sink)
  const sidecar = await startSidecar(parsed.config, logger, 'test')
  t.teardown(() => sidecar.close())

  const waitForLog = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const found = logs.find(match)
    if (found) return Promise.resolve(found)
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(timer)
          resolve(l)
        },
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(
          new Error(`drainpipe (in-process): no matching log line within ${timeoutMs} ms; last logs: ${JSON.stringify(logs.slice(-5))}`),
        )
      }, timeoutMs)
      waiters.add(waiter)
    })
  }
  const port = sidecar.listenAddress.port
  const adminPort = sidecar.adminAddress.port
  const dp: InProcessDrainpipe = {
    sidecar,
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    logs,
    waitForLog,
    ready: (timeoutMs = 10_000) => waitForLog((l) => l.from === 'starting' && l.to === 'ready', timeoutMs).then(() => undefined),
  }
  if (opts.waitReady !== false) await dp.ready()
  return dp
}
