// A pod as the injected spec describes it (see ./injected-spec.ts for what is derived and how
// the lab translates addresses and the clock).
import type { ContainerSpec, PodSpec } from './pod.js'
import type { PodContext } from '../strategies.js'
import { DRAINPIPE_DURATIONS, drainpipeBuild, resolveDurations, scaledDurationArgs, type DrainpipeDurations } from '../drainpipe-build.js'
import { envAt, type InjectedPlan } from './injected-spec.js'

/** drainpipe's durations as the injected spec sets them (its env, or drainpipe's defaults), simulated s. */
export function durationsOf(plan: InjectedPlan): Partial<DrainpipeDurations> {
  const out: Partial<DrainpipeDurations> = {}
  const config = plan.config as unknown as Record<string, unknown>
  for (const key of Object.keys(DRAINPIPE_DURATIONS) as Array<keyof DrainpipeDurations>) {
    const ms = config[`${key}Ms`]
    if (typeof ms === 'number') out[key] = ms / 1000
  }
  return out
}

/**
 * A pod as the injected spec describes it. The lab changes only what its loopback world needs:
 * the pod's addresses (0.0.0.0, 127.0.0.1, POD_IP → the pod's loopback address), the NLB
 * nodes' range (--trusted-proxies), the log level, and the clock (every duration scaled from
 * the spec's own value).
 */
export function injectedPodSpec(plan: InjectedPlan, ctx: PodContext, app: (host: string, port: number) => ContainerSpec): PodSpec {
  const build = drainpipeBuild(ctx.drainpipePath)
  const args = [
    build.path,
    ...scaledDurationArgs(build, resolveDurations(build, durationsOf(plan)), ctx.timeScale, {
      elbv2: false,
      windowFloorWallSeconds: ctx.windowFloorWallSeconds,
    }).args,
    '--trusted-proxies',
    ctx.trustedProxies,
    '--log-level',
    ctx.drainpipeLogLevel,
  ]
  const hook = (h: InjectedPlan['appPreStop']): ContainerSpec['preStop'] =>
    h === undefined ? undefined : { httpGet: { host: ctx.ip, port: h.port, path: h.path, headers: h.headers } }
  const drainpipe: ContainerSpec = {
    name: 'drainpipe',
    command: process.execPath,
    args,
    env: { ...envAt(plan, ctx.ip), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    nativeSidecar: plan.native,
    ...(plan.drainpipePreStop === undefined ? {} : { preStop: hook(plan.drainpipePreStop) }),
  }
  const appContainer: ContainerSpec = { ...app(ctx.ip, plan.appPort), name: plan.appContainer }
  const appHook = hook(plan.appPreStop)
  if (appHook !== undefined) appContainer.preStop = appHook
  return {
    gracePeriodSeconds: plan.gracePeriodSeconds,
    readinessPeriodSeconds: ctx.readinessPeriodSeconds,
    readinessGate: ctx.readinessGate,
    containers: [drainpipe, appContainer],
    readiness: plan.readiness.map((r) => ({ host: ctx.ip, port: r.port, path: r.path })),
  }
}
