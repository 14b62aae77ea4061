// What each strategy puts in a pod. Paths are resolved from this file so the lab runs the
// repository's own app and drainpipe build (build/rollout/ → ../../examples, ../../dist);
// --drainpipe PATH runs another build.
import { fileURLToPath } from 'node:url'
import type { ContainerSpec, PodSpec } from './kube/pod.js'
import type { InjectedPlan } from './kube/injected-spec.js'
import { injectedPodSpec } from './kube/injected-pod.js'
import { HEALTH_CHECK_PORT, FAST_LANE_UNHEALTHY_LAG_MAX_SECONDS } from './target-group-setup.js'

export { FAST_LANE_HEALTH_CHECK, HEALTH_CHECK_PORT, targetGroupSetup, type TargetGroupSetup } from './target-group-setup.js'
import { drainpipeBuild, resolveDurations, scaledDurationArgs, type DrainpipeDurations } from './drainpipe-build.js'

export const APP = fileURLToPath(new URL('../../examples/http-app.mjs', import.meta.url))
/** The manifest the `injected` strategy injects when no --pod-spec is given. */
export const LAB_DEPLOYMENT = fileURLToPath(new URL('../../examples/rollout-lab-deployment.yaml', import.meta.url))
export const DRAINPIPE = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** Fixed names; `sleep-N` (a preStop sleep of N simulated seconds) is accepted too. */
export const STRATEGIES = [
  'none',
  'sleep',
  'elbv2-only',
  'drainpipe',
  'drainpipe+elbv2',
  'drainpipe-native',
  'drainpipe-fast-lane',
  'injected',
] as const
export type StrategyName = (typeof STRATEGIES)[number] | `sleep-${number}` | `fail-hc+sleep-${number}`

export const STRATEGY_HELP: Record<string, string> = {
  none: 'the app owns the pod port and stops on SIGTERM (closes its listener, finishes in-flight requests)',
  sleep: 'the same app with a fixed preStop sleep (--sleep)',
  'sleep-N': 'the same with a preStop sleep of N simulated s (sleep-130)',
  'elbv2-only':
    'a preStop that polls DescribeTargetHealth until draining/unused, then lets the app stop (what "the API says deregistered" is worth)',
  drainpipe: "drainpipe in front (classic sidecar) with its default observers; the app's preStop GETs /prestop",
  'drainpipe+elbv2': 'as drainpipe, with --deregistration traffic,elbv2 (DescribeTargetHealth against the emulator)',
  'drainpipe-native': 'as drainpipe, as a native sidecar (SIGTERM only after the app exited)',
  'drainpipe-fast-lane':
    'k8s/fast-lane: drainpipe+elbv2 with --health-check-on-terminate fail, --health-check-listen (HTTP checks every 5 s, unhealthy after 2), --lb-unhealthy-lag-max 60; target group with unhealthy connection termination off, draining interval 300',
  injected:
    'pods as `drainpipe inject` writes them from --pod-spec (default examples/rollout-lab-deployment.yaml): drainpipe settings, ports, preStop hooks, readiness probes and grace period all taken from the injected spec',
  'fail-hc+sleep-N':
    'the blind fast lane: the same target group and checks, a health-check container that exits on SIGTERM (checks fail from termination start) and a preStop sleep of N simulated s (fail-hc+sleep-60)',
}

/** The strategy named by `text`, or undefined. */
export function parseStrategy(text: string): StrategyName | undefined {
  if ((STRATEGIES as readonly string[]).includes(text)) return text as StrategyName
  const m = /^(?:fail-hc\+)?sleep-(\d+(?:\.\d+)?)$/.exec(text)
  return m === null || Number(m[1]) > 3600 ? undefined : (text as StrategyName)
}

/** Seconds of preStop sleep after failing health checks, for the blind fast lane. */
export function blindSleepSecondsOf(strategy: StrategyName): number | undefined {
  const m = /^fail-hc\+sleep-(\d+(?:\.\d+)?)$/.exec(strategy)
  return m === null ? undefined : Number(m[1])
}

/** The strategies whose target group is k8s/fast-lane's: HTTP checks on a dedicated port, unhealthy termination off. */
export function usesFastLaneTargetGroup(strategy: StrategyName): boolean {
  return strategy === 'drainpipe-fast-lane' || blindSleepSecondsOf(strategy) !== undefined
}

/** Strategies that run drainpipe's elbv2 observer (and so know the target group). */
export function usesElbv2(strategy: StrategyName): boolean {
  return strategy === 'drainpipe+elbv2' || strategy === 'drainpipe-fast-lane'
}

/** Seconds of preStop sleep for a sleep strategy. */
export function sleepSecondsOf(strategy: StrategyName, fallback: number): number | undefined {
  if (strategy === 'sleep') return fallback
  const m = /^sleep-(\d+(?:\.\d+)?)$/.exec(strategy)
  return m === null ? undefined : Number(m[1])
}

export function isDrainpipe(strategy: StrategyName): boolean {
  return strategy.startsWith('drainpipe')
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
  targetGroupArn: string
  elbv2Endpoint: string
  drainpipeLogLevel: string
  /** The drainpipe cli.js to run. */
  drainpipePath: string
  /** drainpipe's durations the lab sets, simulated seconds (scaled when passed); the rest are the build's defaults. */
  durations: Partial<DrainpipeDurations>
  /** Wall-clock floor of drainpipe's quiet window (a harness stall must not look like quiet). */
  windowFloorWallSeconds: number
  /** The app's keep-alive timeout, simulated seconds (Node's default is 5). */
  appKeepAliveSeconds: number
  /** gRPC load: drainpipe forwards HTTP/2 streams to the app over h2c (--upstream-protocol h2c). */
  grpc?: boolean
  /** The `injected` strategy: the pod plan derived from the injected spec. */
  injected?: InjectedPlan
}

/** k8s/nlb-elbv2's --max-wait (lag bound from draining + the controller's delay + a poll), and a grace period it fits in. */
export const ELBV2_MAX_WAIT_SECONDS = 250
export const ELBV2_GRACE_SECONDS = 310

export function usesProxyProtocol(strategy: StrategyName): boolean {
  return isDrainpipe(strategy)
}

/** The duration notes (unscaled, raised) for a strategy's drainpipe, or [] without one. */
export function unscaledDurations(
  strategy: StrategyName,
  ctx: Pick<PodContext, 'drainpipePath' | 'durations' | 'timeScale' | 'windowFloorWallSeconds'>,
): string[] {
  if (!isDrainpipe(strategy)) return []
  const build = drainpipeBuild(ctx.drainpipePath)
  return scaledDurationArgs(build, resolveDurations(build, ctx.durations), ctx.timeScale, {
    elbv2: usesElbv2(strategy),
    windowFloorWallSeconds: ctx.windowFloorWallSeconds,
  }).unscaled
}

export function podSpec(strategy: StrategyName, ctx: PodContext): PodSpec {
  const wallSeconds = (seconds: number): string => String(Math.round(seconds * ctx.timeScale * 1000) / 1000)
  const app = (host: string, port: number): ContainerSpec => ({
    name: 'app',
    command: process.execPath,
    args: [
      APP,
      '--host',
      host,
      '--port',
      String(port),
      '--name',
      ctx.name,
      '--on-sigterm',
      'close',
      '--keep-alive-timeout',
      wallSeconds(ctx.appKeepAliveSeconds),
    ],
  })
  const base = {
    gracePeriodSeconds: ctx.gracePeriodSeconds,
    readinessPeriodSeconds: ctx.readinessPeriodSeconds,
    readinessGate: ctx.readinessGate,
  }
  const direct = { readiness: { host: ctx.ip, port: POD_PORT, path: '/' } }
  const sleep = sleepSecondsOf(strategy, ctx.sleepSeconds)
  if (sleep !== undefined) return { ...base, ...direct, containers: [{ ...app(ctx.ip, POD_PORT), preStop: { sleepSeconds: sleep } }] }
  if (strategy === 'injected') {
    if (ctx.injected === undefined) throw new Error('the injected strategy needs the plan from an injected spec')
    return injectedPodSpec(ctx.injected, ctx, app)
  }
  const blind = blindSleepSecondsOf(strategy)
  if (blind !== undefined) {
    // What teams do by hand (ingress-nginx#11890): health checks that fail from termination start
    // (here a health-check container that exits on SIGTERM: refused, like drainpipe's closed
    // --health-check-listen), and a fixed preStop sleep before the app stops.
    const health: ContainerSpec = {
      name: 'healthcheck',
      command: process.execPath,
      args: [APP, '--host', ctx.ip, '--port', String(HEALTH_CHECK_PORT), '--name', `${ctx.name}-hc`, '--on-sigterm', 'exit'],
    }
    return { ...base, ...direct, containers: [health, { ...app(ctx.ip, POD_PORT), preStop: { sleepSeconds: blind } }] }
  }
  switch (strategy) {
    case 'none':
      return { ...base, ...direct, containers: [app(ctx.ip, POD_PORT)] }
    case 'elbv2-only':
      return {
        ...base,
        ...direct,
        containers: [
          {
            ...app(ctx.ip, POD_PORT),
            preStop: {
              elbv2Draining: {
                endpoint: ctx.elbv2Endpoint,
                targetGroupArn: ctx.targetGroupArn,
                id: ctx.ip,
                port: POD_PORT,
                pollSeconds: ctx.durations.elbv2PollInterval ?? 10,
              },
            },
          },
        ],
      }
    default: {
      const elbv2 = usesElbv2(strategy)
      const fastLane = strategy === 'drainpipe-fast-lane'
      const build = drainpipeBuild(ctx.drainpipePath)
      // With elbv2 the lag bound counts from the moment the API says draining, so --max-wait and
      // the grace period are those of k8s/nlb-elbv2 (250 s, 310 s here: the lab's margin is the
      // budget's 10%, uncapped at small time scales), unless the regime sets its own.
      const maxWait = ctx.durations.maxWait ?? (elbv2 ? ELBV2_MAX_WAIT_SECONDS : undefined)
      const gracePeriodSeconds =
        elbv2 && ctx.durations.maxWait === undefined ? Math.max(ctx.gracePeriodSeconds, ELBV2_GRACE_SECONDS) : ctx.gracePeriodSeconds
      const args = [
        build.path,
        '--listen',
        `${ctx.ip}:${POD_PORT}`,
        '--upstream',
        `${ctx.ip}:${APP_PORT}`,
        '--admin',
        `${ctx.ip}:${ADMIN_PORT}`,
        '--mode',
        'http',
        '--proxy-protocol',
        'required',
        '--trusted-proxies',
        ctx.trustedProxies,
        ...scaledDurationArgs(
          build,
          resolveDurations(build, {
            ...(fastLane ? { lbUnhealthyLagMax: FAST_LANE_UNHEALTHY_LAG_MAX_SECONDS } : {}),
            ...ctx.durations,
            ...(maxWait === undefined ? {} : { maxWait }),
            gracePeriod: gracePeriodSeconds,
          }),
          ctx.timeScale,
          { elbv2, windowFloorWallSeconds: ctx.windowFloorWallSeconds },
        ).args,
        '--log-level',
        ctx.drainpipeLogLevel,
      ]
      if (elbv2) {
        args.push(
          '--deregistration',
          'traffic,elbv2',
          '--target-id',
          ctx.ip,
          '--target-port',
          String(POD_PORT),
          '--target-group-arn',
          ctx.targetGroupArn,
          '--elbv2-endpoint',
          ctx.elbv2Endpoint,
          '--aws-region',
          'us-east-1',
        )
      }
      if (ctx.grpc === true) {
        if (!build.flags.has('upstream-protocol'))
          throw new Error(`${build.path} has no --upstream-protocol: the gRPC load needs a build that forwards h2c`)
        args.push('--upstream-protocol', 'h2c')
      }
      if (fastLane) args.push('--health-check-on-terminate', 'fail', '--health-check-listen', `${ctx.ip}:${HEALTH_CHECK_PORT}`)
      const sidecar: ContainerSpec = {
        name: 'drainpipe',
        command: process.execPath,
        args,
        env: {
          AWS_ACCESS_KEY_ID: 'lab',
          AWS_SECRET_ACCESS_KEY: 'lab',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        nativeSidecar: strategy === 'drainpipe-native',
      }
      return {
        ...base,
        gracePeriodSeconds,
        containers: [sidecar, { ...app(ctx.ip, APP_PORT), preStop: { httpGet: { host: ctx.ip, port: ADMIN_PORT, path: '/prestop' } } }],
        readiness: { host: ctx.ip, port: ADMIN_PORT, path: '/readyz' },
      }
    }
  }
}
