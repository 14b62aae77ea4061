// What each strategy puts in a pod. Paths are resolved from this file so the lab runs the
// repository's own app and drainpipe build (build/rollout/ → ../../examples, ../../dist).
import { fileURLToPath } from 'node:url'
import type { ContainerSpec, PodSpec } from './kube/pod.js'

export const APP = fileURLToPath(new URL('../../examples/http-app.mjs', import.meta.url))
export const DRAINPIPE = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

export const STRATEGIES = ['none', 'sleep', 'drainpipe', 'drainpipe+elbv2', 'drainpipe-native'] as const
export type StrategyName = typeof STRATEGIES[number]

export const STRATEGY_HELP: Record<StrategyName, string> = {
  none: 'the app owns the pod port and stops on SIGTERM (closes its listener, finishes in-flight requests)',
  sleep: 'the same app with a fixed preStop sleep (--sleep)',
  drainpipe: 'drainpipe in front (classic sidecar), --deregistration traffic; the app\'s preStop GETs /prestop',
  'drainpipe+elbv2': 'as drainpipe, with --deregistration traffic,elbv2 (DescribeTargetHealth against the emulator)',
  'drainpipe-native': 'as drainpipe, as a native sidecar (SIGTERM only after the app exited)',
}

/**
 * Ports inside a pod (each pod has its own loopback address, standing in for its IP). Not the
 * usual 8080/3000/9901: a process listening on 0.0.0.0 with one of those would take the port
 * on every loopback address.
 */
export const POD_PORT = 18080
export const APP_PORT = 13000
export const ADMIN_PORT = 19901

export interface PodContext {
  ip: string
  name: string
  timeScale: number
  gracePeriodSeconds: number
  readinessPeriodSeconds: number
  readinessGate: boolean
  sleepSeconds: number
  /** drainpipe: the NLB nodes' source range (trusted PROXY senders). */
  trustedProxies: string
  /**
   * drainpipe: --quiet-period-min, wall-clock seconds. The quiet window is not time-scaled
   * (nor is --quiet-period-max, left at drainpipe's default): it is derived from the arrival
   * rate of the lab's load, which is wall-clock.
   */
  quietPeriodMinSeconds: number
  targetGroupArn: string
  elbv2Endpoint: string
  drainpipeLogLevel: string
  /** drainpipe --elbv2-poll-interval, simulated seconds. */
  elbv2PollSeconds: number
}

export function usesProxyProtocol(strategy: StrategyName): boolean { return strategy.startsWith('drainpipe') }

export function podSpec(strategy: StrategyName, ctx: PodContext): PodSpec {
  const s = (seconds: number): string => String(Math.round(seconds * ctx.timeScale * 1000) / 1000)
  const app = (host: string, port: number): ContainerSpec => ({
    name: 'app',
    command: process.execPath,
    args: [APP, '--host', host, '--port', String(port), '--name', ctx.name, '--on-sigterm', 'close'],
  })
  const base = { gracePeriodSeconds: ctx.gracePeriodSeconds, readinessPeriodSeconds: ctx.readinessPeriodSeconds, readinessGate: ctx.readinessGate }
  switch (strategy) {
    case 'none':
      return { ...base, containers: [app(ctx.ip, POD_PORT)], readiness: { host: ctx.ip, port: POD_PORT, path: '/' } }
    case 'sleep':
      return { ...base, containers: [{ ...app(ctx.ip, POD_PORT), preStop: { sleepSeconds: ctx.sleepSeconds } }], readiness: { host: ctx.ip, port: POD_PORT, path: '/' } }
    case 'drainpipe':
    case 'drainpipe+elbv2':
    case 'drainpipe-native': {
      const elbv2 = strategy === 'drainpipe+elbv2'
      const args = [
        DRAINPIPE,
        '--listen', `${ctx.ip}:${POD_PORT}`,
        '--upstream', `${ctx.ip}:${APP_PORT}`,
        '--admin', `${ctx.ip}:${ADMIN_PORT}`,
        '--mode', 'http',
        '--proxy-protocol', 'required',
        '--trusted-proxies', ctx.trustedProxies,
        '--deregistration', elbv2 ? 'traffic,elbv2' : 'traffic',
        '--quiet-period', 'auto',
        '--quiet-period-min', String(ctx.quietPeriodMinSeconds),
        '--max-wait', s(180),
        '--drain-timeout', s(30),
        '--grace-period', s(ctx.gracePeriodSeconds),
        '--upstream-probe-interval', s(1),
        '--log-level', ctx.drainpipeLogLevel,
      ]
      if (elbv2) {
        args.push('--target-id', ctx.ip, '--target-port', String(POD_PORT), '--target-group-arn', ctx.targetGroupArn,
          '--elbv2-endpoint', ctx.elbv2Endpoint, '--aws-region', 'us-east-1', '--elbv2-poll-interval', s(ctx.elbv2PollSeconds))
      }
      const sidecar: ContainerSpec = {
        name: 'drainpipe',
        command: process.execPath,
        args,
        env: { AWS_ACCESS_KEY_ID: 'lab', AWS_SECRET_ACCESS_KEY: 'lab', AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        nativeSidecar: strategy === 'drainpipe-native',
      }
      return {
        ...base,
        containers: [sidecar, { ...app(ctx.ip, APP_PORT), preStop: { httpGet: { host: ctx.ip, port: ADMIN_PORT, path: '/prestop' } } }],
        readiness: { host: ctx.ip, port: ADMIN_PORT, path: '/readyz' },
      }
    }
  }
}
