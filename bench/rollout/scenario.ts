// One strategy, start to finish: ELBv2 emulator + target group, NLB, controller, a Deployment
// of real pods, load through the NLB; a rolling update under that load; then the load runs
// on until the NLB no longer routes to any deregistered target (so failures in the
// post-deregistration lag are counted), and everything is torn down.
import { mkdirSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { join } from 'node:path'
import { startElbv2Emulator, type Elbv2Emulator } from './elbv2/index.js'
import { startNlb, type Nlb, type ResetReason } from './nlb/index.js'
import { LoadBalancerController } from './kube/controller.js'
import { Deployment } from './kube/deployment.js'
import { Pod } from './kube/pod.js'
import { Timeline } from './load/timeline.js'
import { startLoad, percentile, type LoadRun, type RequestCounts } from './load/load.js'
import { startOpenLoop } from './load/open-loop.js'
import { startGrpcLoad } from './load/grpc.js'
import { podSpec, targetGroupSetup, unscaledDurations, POD_PORT, type StrategyName } from './strategies.js'
import type { LabOptions } from './lab-options.js'
import { parseDistribution } from './model/distribution.js'
import { stream } from './model/random.js'
import { planFromFile } from './kube/injected-spec.js'

export { DEFAULTS, type LabOptions } from './lab-options.js'

export interface StrategyResult extends RequestCounts {
  name: StrategyName
  p50Ms: number
  p99Ms: number
  /** Simulated seconds from the rollout's start until the last old pod exited. */
  rolloutSeconds: number
  rolloutWallSeconds: number
  /** Simulated seconds, mean over terminated pods. */
  meanSecondsAfterTermination: number
  elbv2Calls: number
  elbv2Throttled: number
  flowsToDeregistered: number
  /** Connections the NLB reset or refused, by reason (reasons with none left out). */
  nlbResets: Partial<Record<ResetReason, number>>
  /** Simulated seconds from a pod's termination start to its DeregisterTargets call succeeding (controller queue, rate limits, throttling). */
  meanDeregistrationSeconds: number
  errorsByCode: Record<string, number>
  completed: boolean
  timeline: Timeline
  /** The kubelet's view of each terminated pod (hooks, signals, exits). */
  podEvents: string[]
  /** Per old pod, simulated seconds from termination start to its last container's exit. */
  podLifeSeconds: number[]
  /** Per old pod, simulated seconds from the LB's last new connection to it until it exited (< 0: the LB sent more after it was gone). */
  exitAfterLastLbConnectionSeconds: number[]
  /** Per old pod, simulated seconds from its exit to the last NLB node's lag ending (> 0: it was gone while the LB could still route to it). */
  lagEndAfterExitSeconds: number[]
  /** drainpipe durations that ran unscaled, or were raised to the wall-clock floor. */
  unscaled: string[]
  /** Longest harness event-loop stall seen during the run, wall-clock ms. */
  maxStallMs: number
}

export type Progress = (line: string) => void

export async function runStrategy(name: StrategyName, o: LabOptions, index: number, progress: Progress): Promise<StrategyResult> {
  const wall = (seconds: number): number => seconds * 1000 * o.timeScale
  const sim = (ms: number): number => round(ms / 1000 / o.timeScale)
  const deadline = Date.now() + o.timeoutSeconds * 1000
  const podDir = join(o.runDir, name.replace(/[^a-z0-9-]/g, '_'))
  mkdirSync(podDir, { recursive: true })
  const timeline = new Timeline()
  let emulator: Elbv2Emulator | undefined
  let nlb: Nlb | undefined
  let controller: LoadBalancerController | undefined
  let deployment: Deployment | undefined
  let load: LoadRun | undefined
  let gauges: NodeJS.Timeout | undefined
  let phase = 'starting'
  let targetPort = POD_PORT
  try {
    emulator = await startElbv2Emulator({
      timeScale: o.timeScale,
      describeBurst: o.describeBurst,
      describeRefillPerSecond: o.describeRefillPerSecond,
      mutateBurst: o.mutateBurst,
      mutateRefillPerSecond: o.mutateRefillPerSecond,
    })
    // The injected strategy: one inject per run (one admin token per workload, as inject makes it).
    const injected = name === 'injected' ? planFromFile(o.podSpecPath) : undefined
    // The LB-facing port: the injected spec's, else the lab's.
    targetPort = injected?.lbPort ?? POD_PORT
    const arn = emulator.createTargetGroup({
      name: `lab-${index}`,
      port: targetPort,
      deregistrationDelaySeconds: o.deregistrationDelaySeconds,
      ...targetGroupSetup(name, o, injected),
    })
    const group = emulator.targetGroup(arn)
    nlb = await startNlb({
      targetGroup: group,
      nodes: o.lbNodes,
      deregistrationLag: parseDistribution(o.lag),
      unhealthyLag: parseDistribution(o.unhealthyLag),
      lagStaggerSeconds: o.lagStaggerSeconds,
      crossZone: o.crossZone,
      checkWhileDraining: o.healthChecksWhileDraining,
      unhealthyCutsLag: o.unhealthyCutsLag,
      checkRandom: stream(o.seed, 'nlb-check'),
      // The fast lane's 2 s check timeout is 100 ms of wall-clock at 0.05: a harness stall would fail checks.
      healthCheckTimeoutFloorMs: o.windowFloorWallSeconds * 1000,
      random: stream(o.seed, 'nlb-route'),
      lagRandom: stream(o.seed, 'nlb-lag'),
      nodeAddress: (i) => `127.0.100.${i + 1}`,
    })
    controller = new LoadBalancerController({
      endpoint: emulator.url,
      targetGroupArn: arn,
      targetPort,
      timeScale: o.timeScale,
      queueDelaySeconds: o.controllerQueueDelaySeconds,
      gatePollSeconds: o.gatePollSeconds,
      readinessGate: o.readinessGate,
      terminationDelay: {
        sample: (
          (d, r) => () =>
            d.sample(r)
        )(parseDistribution(o.controllerTerminationDelay), stream(o.seed, 'controller')),
      },
    })
    let podNumber = 0
    const ctrl = controller
    const elbv2Url = emulator.url
    deployment = new Deployment({
      replicas: o.replicas,
      maxSurge: o.maxSurge,
      maxUnavailable: o.maxUnavailable,
      createPod: (revision) => {
        podNumber++
        const ip = `127.${o.podSubnet}.${index}.${podNumber}`
        const podName = `${name}-r${revision}-${podNumber}`
        const pod = new Pod(
          podName,
          ip,
          revision,
          podSpec(name, {
            ip,
            name: podName,
            timeScale: o.timeScale,
            gracePeriodSeconds: o.gracePeriodSeconds,
            readinessPeriodSeconds: o.readinessPeriodSeconds,
            readinessGate: o.readinessGate,
            sleepSeconds: o.sleepSeconds,
            trustedProxies: '127.0.100.0/24',
            targetGroupArn: arn,
            elbv2Endpoint: elbv2Url,
            drainpipeLogLevel: o.drainpipeLogLevel,
            drainpipePath: o.drainpipePath,
            durations: { ...o.drainpipe, elbv2PollInterval: o.elbv2PollSeconds },
            windowFloorWallSeconds: o.windowFloorWallSeconds,
            appKeepAliveSeconds: o.appKeepAliveSeconds,
            grpc: o.load === 'grpc',
            ...(injected === undefined ? {} : { injected }),
          }),
          o.timeScale,
          join(podDir, `${podName}.log`),
        )
        pod.start()
        ctrl.watch(pod)
        return pod
      },
    })
    const d = deployment
    const n = nlb

    // 1. Pods up, targets healthy.
    d.scaleUp()
    while (!(d.readyCount() === o.replicas && n.healthyTargets() === o.replicas)) {
      const crashed = d.pods.find((p) => p.crashed() !== undefined)
      if (crashed !== undefined)
        throw new Error(
          `${name}: pod ${crashed.name} container ${crashed.crashed()} exited during start-up:\n${crashed.tail(crashed.crashed()!)}`,
        )
      if (Date.now() > deadline)
        throw new Error(
          `${name}: pods not ready in time (ready ${d.readyCount()}, healthy targets ${n.healthyTargets()}); pod logs in ${podDir}`,
        )
      await sleep(20)
    }

    // 2. Load, warm-up.
    phase = 'warm-up'
    const url = `http://127.0.0.1:${n.address().port}`
    const path = o.requestDelayMs > 0 ? `/?delay=${o.requestDelayMs}` : '/'
    const open = { url, path, timeline, timeScale: o.timeScale, random: stream(o.seed, 'load'), timeoutSeconds: o.requestTimeoutSeconds }
    load =
      o.load === 'grpc'
        ? startGrpcLoad({
            target: `127.0.0.1:${n.address().port}`,
            clients: o.keepAliveClients,
            thinkSeconds: o.thinkSeconds,
            timeScale: o.timeScale,
            random: stream(o.seed, 'load'),
            timeoutSeconds: o.requestTimeoutSeconds,
            delayMs: o.requestDelayMs,
            timeline,
          })
        : o.load === 'closed'
          ? startLoad({
              url,
              path,
              timeline,
              parallel: o.parallel,
              connections: o.connections,
              requestsPerConnection: o.requestsPerConnection,
            })
          : startOpenLoop({
              ...open,
              model:
                o.load === 'keepalive'
                  ? { kind: 'keepalive', clients: o.keepAliveClients, thinkSeconds: o.thinkSeconds }
                  : o.load === 'bursty'
                    ? {
                        kind: 'bursty',
                        ratePerSecond: o.ratePerPod * o.replicas,
                        onSeconds: o.burstOnSeconds,
                        offSeconds: o.burstOffSeconds,
                      }
                    : { kind: 'poisson', ratePerSecond: o.ratePerPod * o.replicas },
            })
    const l = load
    const sample = (): void => {
      timeline.gauge('healthy', n.healthyTargets())
      timeline.gauge('routable', n.routableTargets().length)
      timeline.gauge('ready', d.readyCount())
      timeline.gauge('terminating', d.terminating().length)
    }
    let lastPrint = 0
    let lastRequests = 0
    let maxStallMs = 0
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const tick = (): void => {
      sample()
      const now = Date.now()
      if (now - lastPrint < 1000) return
      lastPrint = now
      const s = l.snapshot()
      const stall = loopDelay.max / 1e6
      maxStallMs = Math.max(maxStallMs, stall)
      loopDelay.reset()
      progress(
        `[${name}] ${timeline.elapsedSeconds().toFixed(1).padStart(5)}s ${phase.padEnd(9)} ready ${d.readyCount()}/${o.replicas} terminating ${d.terminating().length} ` +
          `healthy targets ${n.healthyTargets()} requests ${s.requests} (+${s.requests - lastRequests}) failed ${s.failed}${restarts(d) > 0 ? ` container restarts ${restarts(d)}` : ''}${stall > 200 ? ` [harness stalled ${Math.round(stall)} ms]` : ''}`,
      )
      lastRequests = s.requests
    }
    gauges = setInterval(tick, 100)
    await sleep(wall(o.warmupSeconds))

    // 3. Rolling update.
    phase = 'rollout'
    const rolloutStart = Date.now()
    timeline.mark('rollout', rolloutStart)
    const completed = await d.rollout(Math.max(0, deadline - Date.now()))
    timeline.mark('complete')
    phase = 'draining'
    const oldPods = d.pods.filter((p) => p.revision === 1)
    await withDeadline(Promise.all(d.terminations), deadline)
    const oldGoneAt = Math.max(...oldPods.map((p) => p.terminatedAt ?? Date.now()))
    timeline.mark('old pods gone', oldGoneAt)

    // 4. Keep the load on while the NLB still routes to deregistered targets.
    phase = 'lag'
    const gone = (): boolean => {
      const live = new Set(d.active().map((p) => p.ip))
      return !n.routableTargets().some((t) => !live.has(t.id))
    }
    while (!gone() && Date.now() < deadline) await sleep(50)
    await sleep(Math.min(wall(o.healthCheckIntervalSeconds), 500))
    phase = 'stopping'
    const r = await l.stop()
    load = undefined
    clearInterval(gauges)
    sample()

    const sorted = r.latenciesMs.slice().sort((a, b) => a - b)
    const lived = oldPods.map((p) => p.livedAfterTermination()).filter((v): v is number => v !== undefined)
    const exits = oldPods.filter((p) => p.terminatedAt !== undefined)
    const lastFlow = (ip: string): number | undefined => n.stats.lastFlowAt[`${ip}:${targetPort}`]
    const exitAfterLast = exits.flatMap((p) => {
      const at = lastFlow(p.ip)
      return at === undefined ? [] : [sim(p.terminatedAt! - at)]
    })
    const lagEndAfterExit = exits.flatMap((p) => {
      const ends = n.routing.lagEnds(`${p.ip}:${targetPort}`)
      return ends === undefined ? [] : [sim(Math.max(...ends) - p.terminatedAt!)]
    })
    const stats = emulator.stats()
    const sum = (rec: Record<string, number>): number => Object.values(rec).reduce((a, b) => a + b, 0)
    return {
      name,
      requests: r.requests,
      ok: r.ok,
      non2xx: r.non2xx,
      resets: r.resets,
      timeouts: r.timeouts,
      failed: r.failed,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      rolloutSeconds: round((oldGoneAt - rolloutStart) / 1000 / o.timeScale),
      rolloutWallSeconds: round((oldGoneAt - rolloutStart) / 1000),
      meanSecondsAfterTermination: lived.length === 0 ? 0 : round(lived.reduce((a, b) => a + b, 0) / lived.length / 1000 / o.timeScale),
      elbv2Calls: sum(stats.calls),
      elbv2Throttled: sum(stats.throttled),
      flowsToDeregistered: n.stats.flowsToDeregistered,
      nlbResets: Object.fromEntries(Object.entries(n.stats.resets).filter(([, v]) => v > 0)),
      meanDeregistrationSeconds: mean(controller.stats.deregistrationLatencyMs.map((ms) => ms / 1000 / o.timeScale)),
      errorsByCode: r.errorsByCode,
      completed,
      timeline,
      podEvents: oldPods.flatMap((p) => p.events),
      podLifeSeconds: lived.map(sim),
      exitAfterLastLbConnectionSeconds: exitAfterLast,
      lagEndAfterExitSeconds: lagEndAfterExit,
      unscaled: unscaledDurations(name, {
        drainpipePath: o.drainpipePath,
        durations: o.drainpipe,
        timeScale: o.timeScale,
        windowFloorWallSeconds: o.windowFloorWallSeconds,
      }),
      maxStallMs: Math.round(maxStallMs),
    }
  } finally {
    clearInterval(gauges)
    if (load !== undefined) await load.stop().catch(() => undefined)
    await controller?.stop().catch(() => undefined)
    if (deployment !== undefined) await Promise.all(deployment.pods.map((p) => p.kill()))
    await nlb?.close().catch(() => undefined)
    await emulator?.close().catch(() => undefined)
  }
}

function restarts(d: Deployment): number {
  return d.pods.reduce((n, p) => n + p.restartCount(), 0)
}
async function withDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    work,
    new Promise((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
    }),
  ])
  clearTimeout(timer)
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : round(xs.reduce((a, b) => a + b, 0) / xs.length)
}
function round(x: number): number {
  return Math.round(x * 10) / 10
}
