// Container processes: real child processes with their output captured to a log file, and a
// registry so that every child still running is killed when the harness exits — normally,
// on an exception, or on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'

const live = new Set<ChildProcess>()
let hooked = false

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      /* already gone */
    }
  }
  live.clear()
}

/** Kill every child on exit; on SIGINT/SIGTERM, run `onSignal` (async clean-up) first, then exit 130/143. */
export function installExitHooks(onSignal?: () => Promise<void>): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      killAll()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    stopping = true
    process.stderr.write(`\n${signal}: stopping every pod, load generator and server...\n`)
    const hardStop = setTimeout(() => {
      killAll()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }, 5000)
    hardStop.unref()
    void (onSignal?.() ?? Promise.resolve()).finally(() => {
      killAll()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}

export interface ContainerProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  exitedAt: number | undefined
  /** Last lines of output, for error messages. */
  tail(): string
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string } = {},
): ContainerProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  const log: WriteStream | undefined = opts.logFile === undefined ? undefined : createWriteStream(opts.logFile, { flags: 'a' })
  // A log file that cannot be written (its directory removed at clean-up) must not crash the harness.
  log?.on('error', () => {})
  const lines: string[] = []
  const capture = (chunk: Buffer): void => {
    log?.write(chunk)
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(line)
    if (lines.length > 20) lines.splice(0, lines.length - 20)
  }
  child.stdout?.on('data', capture)
  child.stderr?.on('data', capture)
  const proc: ContainerProcess = {
    name,
    child,
    exitedAt: undefined,
    exited: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child)
        proc.exitedAt = Date.now()
        log?.end()
        resolve({ code, signal })
      })
      child.on('error', (err) => {
        capture(Buffer.from(`spawn error: ${err.message}\n`))
        live.delete(child)
        proc.exitedAt = Date.now()
        log?.end()
        resolve({ code: null, signal: null })
      })
    }),
    tail: () => lines.join('\n'),
  }
  return proc
}

export function running(proc: ContainerProcess): boolean {
  return proc.exitedAt === undefined
}
