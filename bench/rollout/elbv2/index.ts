// ELBv2 Query API emulator for the rollout lab: the real `@aws-sdk/client-elastic-load-balancing-v2`
// client talks to it over HTTP on loopback.
//
//   const elbv2 = await startElbv2Emulator({ timeScale: 0.1 })
//   const arn = elbv2.createTargetGroup({ name: 'web', port: 8080, deregistrationDelaySeconds: 30 })
//   new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: elbv2.url, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } })
//
// Every timing is in AWS seconds scaled by `timeScale` (0.1 = ten times faster than AWS):
// the deregistration delay and the token buckets' refill. `consistencyLagMs` is wall-clock.
import type { AddressInfo } from 'node:net'
import { TokenBucket } from './token-bucket.js'
import { TargetGroup, type HealthCheckConfig, type TargetState } from './target-group.js'
import { createElbv2Server, type Account } from './server.js'

export { TargetGroup, TokenBucket }
export type { HealthCheckConfig, TargetState }
export type { Target, TargetHealth } from './target-group.js'

export interface Elbv2EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0 (any free port). */
  port?: number
  /** 1 = AWS speed; 0.1 = ten times faster. Default 1. */
  timeScale?: number
  /** Wall-clock ms before a change is visible to Describe*. Default 2 simulated seconds (2000 × timeScale). Unverified in AWS; "eventually consistent". */
  consistencyLagMs?: number
  /** Account-wide Describe* bucket: burst 40, refill 10 per (simulated) second, as AWS documents. */
  describeBurst?: number
  describeRefillPerSecond?: number
  /** Account-wide Register/Deregister/Modify bucket. AWS does not publish it; default burst 20, refill 5/s. */
  mutateBurst?: number
  mutateRefillPerSecond?: number
}

export interface CreateTargetGroupOptions {
  name: string
  port: number
  /** deregistration_delay.timeout_seconds, simulated seconds. Default 300. */
  deregistrationDelaySeconds?: number
  healthCheck?: Partial<HealthCheckConfig>
  attributes?: Record<string, string>
}

export interface Elbv2Emulator {
  url: string
  createTargetGroup(opts: CreateTargetGroupOptions): string
  /** The model behind an ARN (the NLB simulator attaches to it). */
  targetGroup(arn: string): TargetGroup
  setTargetHealth(arn: string, id: string, port: number, state: string, reason?: string): void
  /**
   * Answer every call naming `arn` with an error (the group need not exist), e.g.
   * `{ code: 'AccessDenied', status: 403 }` for a role without the permission; `undefined` clears it.
   */
  failTargetGroup(arn: string, error: { code: string; message?: string; status?: number } | undefined): void
  stats(): { calls: Record<string, number>; throttled: Record<string, number> }
  close(): Promise<void>
}

const STATES = new Set<string>(['initial', 'healthy', 'unhealthy', 'unhealthy.draining', 'draining', 'unused', 'unavailable'])

export async function startElbv2Emulator(opts: Elbv2EmulatorOptions = {}): Promise<Elbv2Emulator> {
  const timeScale = opts.timeScale ?? 1
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`)
  const consistencyLagMs = opts.consistencyLagMs ?? 2000 * timeScale
  const account: Account = {
    groups: new Map(),
    describeBucket: new TokenBucket({ burst: opts.describeBurst ?? 40, refillPerSecond: opts.describeRefillPerSecond ?? 10, timeScale }),
    mutateBucket: new TokenBucket({ burst: opts.mutateBurst ?? 20, refillPerSecond: opts.mutateRefillPerSecond ?? 5, timeScale }),
    calls: {},
    throttled: {},
    failures: new Map(),
  }
  const server = createElbv2Server(account)
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const lookup = (arn: string): TargetGroup => {
    const tg = account.groups.get(arn)
    if (tg === undefined) throw new Error(`no target group ${arn}`)
    return tg
  }
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    createTargetGroup(o) {
      const tg = new TargetGroup({ ...o, timeScale, consistencyLagMs })
      account.groups.set(tg.arn, tg)
      return tg.arn
    },
    targetGroup: lookup,
    setTargetHealth(arn, id, targetPort, state, reason) {
      if (!STATES.has(state)) throw new RangeError(`unknown target state ${state}`)
      lookup(arn).setHealth(id, targetPort, state as TargetState, reason)
    },
    failTargetGroup(arn, error) {
      if (error === undefined) account.failures.delete(arn)
      else
        account.failures.set(arn, {
          code: error.code,
          message: error.message ?? `${error.code} (forced by the emulator)`,
          status: error.status ?? 400,
        })
    },
    stats() {
      return { calls: { ...account.calls }, throttled: { ...account.throttled } }
    },
    async close() {
      for (const tg of account.groups.values()) tg.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
