// Child processes of the benchmark: spawned pinned to a CPU (taskset) and with a raised
// file-descriptor limit (prlimit) when the machine allows, every one killed when the
// benchmark exits, however it exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import http from 'node:http'
import { availableParallelism } from 'node:os'

const live = new Set<ChildProcess>()
let hooked = false

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
  live.clear()
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
}

export interface Placement {
  /** CPU list for taskset (e.g. "1"), or null to leave the process unpinned. */
  cpus: string | null
  /** RLIMIT_NOFILE for the child, or null to inherit. */
  nofile: number | null
  /** Scheduling niceness (negative = served first), when the machine allows it. */
  nice?: number
}

export interface Machine {
  cpus: number
  taskset: boolean
  /** Largest RLIMIT_NOFILE a child can get (prlimit works when we may raise the hard limit). */
  nofile: number
  prlimit: boolean
  /** Whether a child can get a negative niceness (root). */
  renice: boolean
}

export function inspectMachine(): Machine {
  const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
  const taskset = has('taskset', ['-c', '0', 'true'])
  const prlimit = has('prlimit', ['--nofile=65536:65536', 'true'])
  const renice = has('nice', ['-n', '-5', 'true']) && spawnSync('nice', ['-n', '-5', 'nice'], { encoding: 'utf8' }).stdout.trim() === '-5'
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim())
  return { cpus: availableParallelism(), taskset, nofile: prlimit ? 65536 : soft, prlimit, renice }
}

export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** Last output lines, for error messages. */
  tail(): string
  /** Resolves with the first stdout line matching. */
  line(match: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  kill(): Promise<void>
}

export function start(name: string, command: string, args: string[], placement: Placement, machine: Machine): Proc {
  hook()
  let cmd = command
  let argv = args
  if (placement.cpus !== null && machine.taskset) {
    argv = ['-c', placement.cpus, cmd, ...argv]
    cmd = 'taskset'
  }
  if (placement.nice !== undefined && (placement.nice >= 0 || machine.renice)) {
    argv = ['-n', String(placement.nice), cmd, ...argv]
    cmd = 'nice'
  }
  if (placement.nofile !== null && machine.prlimit) {
    argv = [`--nofile=${placement.nofile}:${placement.nofile}`, '--', cmd, ...argv]
    cmd = 'prlimit'
  }
  // prlimit, nice and taskset exec the command: the pid is the program's own.
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  const lines: string[] = []
  const waiters: Array<{ match: RegExp; resolve: (m: RegExpExecArray) => void }> = []
  let partial = ''
  const onText = (text: string) => {
    partial += text
    for (let eol = partial.indexOf('\n'); eol !== -1; eol = partial.indexOf('\n')) {
      const l = partial.slice(0, eol)
      partial = partial.slice(eol + 1)
      lines.push(l)
      if (lines.length > 40) lines.shift()
      for (let i = waiters.length - 1; i >= 0; i--) {
        const m = waiters[i]!.match.exec(l)
        if (m) {
          waiters[i]!.resolve(m)
          waiters.splice(i, 1)
        }
      }
    }
  }
  child.stdout!.setEncoding('utf8').on('data', onText)
  child.stderr!.setEncoding('utf8').on('data', (t: string) => {
    for (const l of t.split('\n'))
      if (l) {
        lines.push(`stderr: ${l}`)
        if (lines.length > 40) lines.shift()
      }
  })
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child)
      resolve()
    }),
  )
  return {
    name,
    child,
    get pid() {
      return child.pid!
    },
    tail: () => lines.join('\n'),
    line(match, timeoutMs = 10_000) {
      for (const l of lines) {
        const m = match.exec(l)
        if (m) return Promise.resolve(m)
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line matching ${match} within ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        )
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer)
            resolve(m)
          },
        })
        void exited.then(() => {
          clearTimeout(timer)
          reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${lines.join('\n')}`))
        })
      })
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** One GET on a fresh connection; resolves with the status (0 when the connection failed). */
export function getStatus(port: number, path = '/'): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.once('error', () => resolve(0))
    req.setTimeout(2000, () => req.destroy())
  })
}

export async function waitForStatus(port: number, path: string, want: number, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if ((await getStatus(port, path)) === want) return
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`port ${port}${path} did not answer ${want} within ${timeoutMs} ms`)
}

/** Resolves once 127.0.0.1:`port` accepts a TCP connection (for listeners that do not speak HTTP/1.1). */
export async function waitForPort(port: number, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`port ${port} did not accept within ${timeoutMs} ms`)
}
