// The AWS Load Balancer Controller as the lab models it (TargetGroupBinding reconcile, IP
// targets), talking to the ELBv2 emulator through the real AWS SDK:
//
// - a change to the pods (new pod, readiness change, pod terminating) queues a reconcile,
//   run after `queueDelaySeconds` (the controller's work queue and EndpointSlice propagation);
// - a reconcile lists the targets (DescribeTargetHealth), registers the pods that should be
//   targets and deregisters the others, in batches of 200, through a client-side rate limiter
//   (Register/Deregister burst 20, 4/s by default — the LBC's defaults);
// - should be a target: without the readiness gate, a Ready pod that is not terminating; with
//   the gate, a pod that is not terminating and whose containers are ready (ContainersReady):
//   it is registered before it is Ready, but not before its readiness probes pass. The LBC's
//   endpoint resolver skips a not-ready endpoint whose pod is not ContainersReady and only
//   requeues (pkg/backend/endpoint_resolver.go: `if !pod.IsContainersReady() { … continue }`),
//   so a pod that is still starting (image pull, process start) is never a target whose port
//   refuses; an NLB failing open to every unhealthy target would otherwise send it connections;
// - readiness gate: a pod's gate turns true once the API reports its target healthy; while
//   gates are pending the controller re-checks every `gatePollSeconds` (15 s in the LBC).
//
// A terminating pod is deregistered on the same path: when its endpoint turns terminating
// (deletionTimestamp), not on SIGTERM — both happen at once, and race.
import {
  ElasticLoadBalancingV2Client,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  DeregisterTargetsCommand,
  type TargetDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { TokenBucket } from '../elbv2/token-bucket.js'
import type { Pod } from './pod.js'

export interface ControllerOptions {
  endpoint: string
  targetGroupArn: string
  targetPort: number
  timeScale: number
  /** Simulated seconds between a pod change and the reconcile. Default 1. */
  queueDelaySeconds?: number
  /**
   * Simulated seconds between a pod starting to terminate and the controller acting on it, drawn
   * per pod (EndpointSlice propagation, a busy controller's queue; "slow controller" regimes use
   * 30–90). Default: none beyond queueDelaySeconds.
   */
  terminationDelay?: { sample: () => number }
  /** Simulated seconds between target-health checks while readiness gates are pending. Default 15. */
  gatePollSeconds?: number
  /** Client-side limit on Register/Deregister calls. Defaults 20 / 4 per second. */
  mutateBurst?: number
  mutateRefillPerSecond?: number
  readinessGate: boolean
}

export interface ControllerStats {
  reconciles: number
  registered: number
  deregistered: number
  errors: number
  /** Wall-clock ms from a pod starting to terminate until its DeregisterTargets call succeeded. */
  deregistrationLatencyMs: number[]
}

const BATCH = 200

export class LoadBalancerController {
  readonly client: ElasticLoadBalancingV2Client
  readonly stats: ControllerStats = { reconciles: 0, registered: 0, deregistered: 0, errors: 0, deregistrationLatencyMs: [] }
  private readonly pods = new Set<Pod>()
  /** Pod IP → when its termination started, until its target is deregistered. */
  private readonly terminatingSince = new Map<string, number>()
  /** Pod IP → wall-clock ms before which the controller has not noticed its termination. */
  private readonly noticedAt = new Map<string, number>()
  private readonly limiter: TokenBucket
  private timer: NodeJS.Timeout | undefined
  private pollTimer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = false

  constructor(readonly opts: ControllerOptions) {
    // The SDK warns once per process that Node 20 support ends in 2027; the lab's output is not the place.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
    this.client = new ElasticLoadBalancingV2Client({
      region: 'us-east-1',
      endpoint: opts.endpoint,
      credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' },
      maxAttempts: 10,
    })
    this.limiter = new TokenBucket({
      burst: opts.mutateBurst ?? 20,
      refillPerSecond: opts.mutateRefillPerSecond ?? 4,
      timeScale: opts.timeScale,
    })
  }

  private scaled(seconds: number): number {
    return seconds * 1000 * this.opts.timeScale
  }

  watch(pod: Pod): void {
    this.pods.add(pod)
    pod.on('ready', () => this.enqueue())
    pod.on('terminating', () => {
      this.terminatingSince.set(pod.ip, Date.now())
      const extra = this.opts.terminationDelay?.sample() ?? 0
      if (extra <= 0) {
        this.enqueue()
        return
      }
      this.noticedAt.set(pod.ip, Date.now() + this.scaled(extra))
      const timer = setTimeout(() => this.enqueue(), this.scaled(extra))
      timer.unref()
    })
    pod.on('terminated', () => {
      // A pod gone before the controller noticed is still a target until it does.
      const wait = (this.noticedAt.get(pod.ip) ?? 0) - Date.now()
      if (wait <= 0) {
        this.pods.delete(pod)
        return
      }
      const timer = setTimeout(() => this.pods.delete(pod), wait)
      timer.unref()
    })
    this.enqueue()
  }

  enqueue(delayMs = this.scaled(this.opts.queueDelaySeconds ?? 1)): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.reconcile()
        .catch(() => {
          this.stats.errors++
          this.again = true
        })
        .finally(() => {
          this.running = undefined
          if (this.again) {
            this.again = false
            this.enqueue()
          }
        })
    }, delayMs)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.pollTimer)
    await this.running
    this.client.destroy()
  }

  private async reconcile(): Promise<void> {
    this.stats.reconciles++
    const arn = this.opts.targetGroupArn
    const port = this.opts.targetPort
    const listed = await this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))
    const current = new Map<string, string>()
    for (const d of listed.TargetHealthDescriptions ?? []) current.set(d.Target?.Id ?? '', d.TargetHealth?.State ?? '')

    const now = Date.now()
    const noticed = (p: Pod): boolean => p.phase === 'running' || (this.noticedAt.get(p.ip) ?? 0) <= now
    // Running and its containers ready: with the gate the pod need not be Ready yet (the gate
    // waits for this registration); without it, Ready is the same thing.
    const desired = [...this.pods].filter((p) => !noticed(p) || (p.phase === 'running' && p.containersReady))
    const desiredIps = new Set(desired.map((p) => p.ip))
    const toRegister = desired.filter((p) => {
      const s = current.get(p.ip)
      return s === undefined || s === 'draining'
    })
    const toDeregister = [...current].filter(([ip, state]) => !desiredIps.has(ip) && state !== 'draining').map(([ip]) => ip)

    for (let i = 0; i < toDeregister.length; i += BATCH) {
      const batch = toDeregister.slice(i, i + BATCH)
      await this.mutate(
        new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: batch.map((Id): TargetDescription => ({ Id, Port: port })) }),
      )
      this.stats.deregistered += batch.length
      const done = Date.now()
      for (const ip of batch) {
        const since = this.terminatingSince.get(ip)
        if (since === undefined) continue
        this.stats.deregistrationLatencyMs.push(done - since)
        this.terminatingSince.delete(ip)
      }
    }
    for (let i = 0; i < toRegister.length; i += BATCH) {
      const batch = toRegister.slice(i, i + BATCH)
      await this.mutate(
        new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: batch.map((p): TargetDescription => ({ Id: p.ip, Port: port })) }),
      )
      this.stats.registered += batch.length
    }

    if (this.opts.readinessGate) {
      let pending = false
      for (const pod of this.pods) {
        if (pod.phase !== 'running' || pod.gateReady) continue
        if (current.get(pod.ip) === 'healthy') pod.setGate(true)
        else pending = true
      }
      // Gates pending (containers not ready yet, or the target not healthy yet): look again after
      // the poll interval, as the LBC requeues (a pod change requeues sooner).
      if (pending && this.pollTimer === undefined) {
        this.pollTimer = setTimeout(
          () => {
            this.pollTimer = undefined
            this.enqueue(0)
          },
          this.scaled(this.opts.gatePollSeconds ?? 15),
        )
      }
    }
  }

  private async mutate(command: RegisterTargetsCommand | DeregisterTargetsCommand): Promise<void> {
    while (!this.limiter.take()) await new Promise((resolve) => setTimeout(resolve, 1 / this.limiter.refillPerMs))
    await this.client.send(command as DeregisterTargetsCommand)
  }
}
