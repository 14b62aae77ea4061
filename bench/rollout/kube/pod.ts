// A pod as the kubelet runs it: containers are real processes; a readiness probe (HTTP GET)
// every period; readiness gates (set by the controller); and termination exactly in the
// kubelet's order:
//
//   for each regular container, in parallel: preStop hook (sleep or httpGet), then SIGTERM,
//   then SIGKILL when the grace period is over. A preStop still running at the end of the grace
//   period gets a one-off 2 s more, then SIGTERM and, 2 s later, SIGKILL.
//   Native sidecars (initContainers with restartPolicy: Always): their preStop hooks run in
//   parallel with the app's, but they get SIGTERM only once every regular container exited.
import http from 'node:http'
import { EventEmitter } from 'node:events'
import { startProcess, running, type ContainerProcess } from './processes.js'
import { waitForDraining, type Elbv2DrainingHook } from './elbv2-hook.js'

export type PreStop =
  | { sleepSeconds: number }
  | { httpGet: { host: string; port: number; path: string; headers?: Record<string, string> } }
  /** An exec hook that polls DescribeTargetHealth until the target is draining or unused (the elbv2-only strategy). */
  | { elbv2Draining: Elbv2DrainingHook }

export interface ContainerSpec {
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  preStop?: PreStop
  /** A native sidecar: started first, SIGTERM only after the regular containers exited. */
  nativeSidecar?: boolean
}

export interface ReadinessProbe {
  host: string
  port: number
  path: string
}

export interface PodSpec {
  containers: ContainerSpec[]
  /** HTTP GET readiness probes of the pod (one per container that has one): ready when all pass. */
  readiness: ReadinessProbe | ReadinessProbe[]
  /** The AWS Load Balancer Controller's pod readiness gate (target healthy in the target group). */
  readinessGate: boolean
  /** terminationGracePeriodSeconds, simulated seconds. */
  gracePeriodSeconds: number
  /** readinessProbe.periodSeconds, simulated seconds (Kubernetes default 10). */
  readinessPeriodSeconds: number
}

export interface PodEvents {
  ready: [ready: boolean]
  terminating: []
  terminated: []
}

/** A one-off extension when a preStop outlives the grace period (kubelet). */
const PRESTOP_OVERRUN_SECONDS = 2

export class Pod extends EventEmitter<PodEvents> {
  readonly createdAt = Date.now()
  phase: 'running' | 'terminating' | 'terminated' = 'running'
  containersReady = false
  gateReady = false
  terminationStartedAt: number | undefined
  terminatedAt: number | undefined
  /** What the kubelet saw of each hook and signal, for the report. */
  readonly events: string[] = []
  private readonly procs = new Map<string, ContainerProcess>()
  private probeTimer: NodeJS.Timeout | undefined
  private readonly restarts = new Map<string, number>()

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly revision: number,
    readonly spec: PodSpec,
    readonly timeScale: number,
    readonly logFile?: string,
  ) {
    super()
  }

  get ready(): boolean {
    return this.phase === 'running' && this.containersReady && (!this.spec.readinessGate || this.gateReady)
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.timeScale
  }

  start(): void {
    const ordered = [
      ...this.spec.containers.filter((c) => c.nativeSidecar === true),
      ...this.spec.containers.filter((c) => c.nativeSidecar !== true),
    ]
    for (const c of ordered) this.startContainer(c)
    const period = Math.max(50, this.scaled(this.spec.readinessPeriodSeconds))
    const probe = (): void => {
      if (this.phase !== 'running') return
      void this.probeOnce().then((ok) => {
        if (this.phase !== 'running') return
        this.setContainersReady(ok)
        this.probeTimer = setTimeout(probe, ok ? period : Math.min(period, 100))
      })
    }
    // Probe soon after start (initialDelaySeconds 0), then every period; until the first
    // success retry quickly so start-up is not rounded up to a whole period.
    this.probeTimer = setTimeout(probe, 100)
  }

  /** restartPolicy: Always — a container that exits while the pod runs is restarted after a back-off (10 s, doubling, at most 300 s). */
  private startContainer(c: ContainerSpec): void {
    const proc = startProcess(`${this.name}/${c.name}`, c.command, c.args, {
      env: c.env,
      ...(this.logFile === undefined ? {} : { logFile: this.logFile }),
    })
    this.procs.set(c.name, proc)
    void proc.exited.then(({ code, signal }) => {
      this.log(`${c.name} exited ${signal ?? code}`)
      if (this.phase !== 'running') return
      this.setContainersReady(false)
      const n = (this.restarts.get(c.name) ?? 0) + 1
      this.restarts.set(c.name, n)
      const backoff = setTimeout(
        () => {
          if (this.phase === 'running') this.startContainer(c)
        },
        this.scaled(Math.min(300, 10 * 2 ** (n - 1))),
      )
      backoff.unref()
    })
  }

  /** Container restarts so far (crashes while running). */
  restartCount(): number {
    return [...this.restarts.values()].reduce((a, b) => a + b, 0)
  }

  setGate(ready: boolean): void {
    if (this.gateReady === ready) return
    const before = this.ready
    this.gateReady = ready
    if (this.ready !== before) this.emit('ready', this.ready)
  }

  /** Wall-clock ms from termination start to the last container's exit. */
  livedAfterTermination(): number | undefined {
    if (this.terminationStartedAt === undefined || this.terminatedAt === undefined) return undefined
    return this.terminatedAt - this.terminationStartedAt
  }

  /** The kubelet's termination sequence. Resolves when every container exited. */
  async terminate(): Promise<void> {
    if (this.phase !== 'running') return
    const before = this.ready
    this.phase = 'terminating'
    this.terminationStartedAt = Date.now()
    clearTimeout(this.probeTimer)
    if (before) this.emit('ready', false)
    this.emit('terminating')
    const deadline = this.terminationStartedAt + this.scaled(this.spec.gracePeriodSeconds)
    const regular = this.spec.containers.filter((c) => c.nativeSidecar !== true)
    const sidecars = this.spec.containers.filter((c) => c.nativeSidecar === true)
    const sidecarHooks = sidecars.map((c) => this.runPreStop(c, deadline))
    await Promise.all(regular.map(async (c) => this.stopContainer(c, await this.runPreStop(c, deadline))))
    await Promise.all(sidecars.map(async (c, i) => this.stopContainer(c, await sidecarHooks[i]!)))
    this.phase = 'terminated'
    this.terminatedAt = Math.max(this.terminationStartedAt, ...[...this.procs.values()].map((p) => p.exitedAt ?? Date.now()))
    this.emit('terminated')
  }

  /** Force-kill everything (harness clean-up). */
  async kill(): Promise<void> {
    // Not running any more: no restart of what we kill, no readiness changes.
    if (this.phase === 'running') this.phase = 'terminated'
    clearTimeout(this.probeTimer)
    for (const proc of this.procs.values()) if (running(proc)) proc.child.kill('SIGKILL')
    await Promise.all([...this.procs.values()].map((p) => p.exited))
  }

  /** The first container that exited while the pod was running, if any. */
  crashed(): string | undefined {
    if (this.phase !== 'running') return undefined
    for (const [name, proc] of this.procs) if (!running(proc)) return name
    for (const [name, n] of this.restarts) if (n > 0) return name
    return undefined
  }

  tail(container: string): string {
    return this.procs.get(container)?.tail() ?? ''
  }

  private log(text: string): void {
    const since = this.terminationStartedAt === undefined ? '' : ` +${((Date.now() - this.terminationStartedAt) / 1000).toFixed(2)}s`
    this.events.push(`${this.name}${since}: ${text}`)
  }

  /** Runs the hook; returns the deadline for SIGKILL after it. */
  private async runPreStop(c: ContainerSpec, deadline: number): Promise<number> {
    const hook = c.preStop
    if (hook === undefined) return deadline
    const proc = this.procs.get(c.name)!
    const started = Date.now()
    const work =
      'sleepSeconds' in hook
        ? new Promise<string>((resolve) => {
            const tm = setTimeout(() => resolve('slept'), this.scaled(hook.sleepSeconds))
            tm.unref()
          })
        : 'httpGet' in hook
          ? httpGet(hook.httpGet.host, hook.httpGet.port, hook.httpGet.path, undefined, hook.httpGet.headers)
          : waitForDraining(hook.elbv2Draining, this.timeScale, deadline)
    let timer: NodeJS.Timeout | undefined
    const overrun = new Promise<'overrun'>((resolve) => {
      timer = setTimeout(() => resolve('overrun'), Math.max(0, deadline - started))
    })
    const outcome = await Promise.race([work, overrun, proc.exited.then(() => 'container exited')])
    clearTimeout(timer)
    this.log(
      `${c.name} preStop ${'sleepSeconds' in hook ? `sleep ${hook.sleepSeconds}` : 'httpGet' in hook ? `GET ${hook.httpGet.path}` : 'wait for elbv2 draining'}: ${outcome}`,
    )
    return outcome === 'overrun' ? Date.now() + this.scaled(PRESTOP_OVERRUN_SECONDS) : deadline
  }

  private async stopContainer(c: ContainerSpec, killAt: number): Promise<void> {
    const proc = this.procs.get(c.name)!
    if (!running(proc)) return
    this.log(`${c.name} SIGTERM`)
    proc.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const killed = new Promise<'kill'>((resolve) => {
      timer = setTimeout(() => resolve('kill'), Math.max(0, killAt - Date.now()))
    })
    const result = await Promise.race([proc.exited.then(() => 'exited' as const), killed])
    clearTimeout(timer)
    if (result === 'kill' && running(proc)) {
      this.log(`${c.name} SIGKILL (grace period over)`)
      proc.child.kill('SIGKILL')
      await proc.exited
    }
  }

  private async probeOnce(): Promise<boolean> {
    const probes = Array.isArray(this.spec.readiness) ? this.spec.readiness : [this.spec.readiness]
    const statuses = await Promise.all(probes.map(({ host, port, path }) => httpGet(host, port, path, 1000).catch(() => 'error')))
    return statuses.every((s) => s === '200')
  }

  private setContainersReady(ok: boolean): void {
    if (this.containersReady === ok) return
    const before = this.ready
    this.containersReady = ok
    if (this.ready !== before) this.emit('ready', this.ready)
  }
}

/** GET; resolves with the status code as text, or an error description (the kubelet ignores hook failures). */
export function httpGet(host: string, port: number, path: string, timeoutMs?: number, headers?: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const opts = {
      host,
      port,
      path,
      agent: false,
      ...(headers === undefined ? {} : { headers }),
      ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
    }
    const req = http.get(opts, (res) => {
      res.resume()
      res.on('end', () => resolve(String(res.statusCode)))
      res.on('error', () => resolve('error'))
    })
    req.on('timeout', () => {
      req.destroy()
      resolve('timeout')
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}
