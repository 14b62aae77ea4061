// The drainpipe the lab runs (this repository's dist/cli.js, or an older build with
// --drainpipe PATH), the flags it supports (read from its --help), and the durations the lab
// passes it on the simulated clock. Every duration that matters to the decision is scaled;
// what a build cannot take is listed, so the output says which durations ran unscaled.
import { spawnSync } from 'node:child_process'

export interface DrainpipeBuild {
  path: string
  flags: ReadonlySet<string>
  /** Numeric defaults its --help states ("--max-wait SECONDS (default 190)"), flag → value. */
  defaults: ReadonlyMap<string, number>
}

const cache = new Map<string, DrainpipeBuild>()

export function drainpipeBuild(path: string): DrainpipeBuild {
  const known = cache.get(path)
  if (known !== undefined) return known
  const help = spawnSync(process.execPath, [path, '--help'], { encoding: 'utf8', timeout: 20_000 })
  if (help.status !== 0) throw new Error(`${path} --help exited ${help.status ?? help.signal}: ${help.stderr.slice(0, 500)}`)
  const flags = new Set([...help.stdout.matchAll(/^\s{2}--([a-z0-9-]+)/gm)].map((m) => m[1]!))
  const defaults = new Map(
    [...help.stdout.matchAll(/^\s{2}--([a-z0-9-]+) [A-Z]+ \(default (\d+(?:\.\d+)?)\)/gm)].map((m) => [m[1]!, Number(m[2])]),
  )
  const build = { path, flags, defaults }
  cache.set(path, build)
  return build
}

/** drainpipe's durations as the lab runs them: flag → simulated seconds (the build's default where the lab has no opinion). */
export interface DrainpipeDurations {
  quietPeriodMin: number
  quietPeriodMax: number
  arrivalHistory: number
  lbLagMax: number
  /** The fast lane's lag bound (builds that have it). */
  lbUnhealthyLagMax: number
  minWait: number
  maxWait: number
  drainTimeout: number
  gracePeriod: number
  upstreamProbeInterval: number
  elbv2PollInterval: number
  headerTimeout: number
  keepAliveTimeout: number
  upstreamTimeout: number
  upstreamConnectTimeout: number
}

/** The lab's fallback when a build's --help names no default (drainpipe's defaults before issue 10). */
export const DRAINPIPE_DURATIONS: DrainpipeDurations = {
  quietPeriodMin: 2,
  quietPeriodMax: 60,
  arrivalHistory: 60,
  lbLagMax: 180,
  lbUnhealthyLagMax: 60,
  minWait: 0,
  maxWait: 180,
  drainTimeout: 30,
  gracePeriod: 240,
  upstreamProbeInterval: 1,
  elbv2PollInterval: 10,
  headerTimeout: 60,
  keepAliveTimeout: 360,
  upstreamTimeout: 60,
  upstreamConnectTimeout: 5,
}

const FLAG: Record<keyof DrainpipeDurations, string> = {
  quietPeriodMin: 'quiet-period-min',
  quietPeriodMax: 'quiet-period-max',
  arrivalHistory: 'arrival-history',
  lbLagMax: 'lb-lag-max',
  lbUnhealthyLagMax: 'lb-unhealthy-lag-max',
  minWait: 'min-wait',
  maxWait: 'max-wait',
  drainTimeout: 'drain-timeout',
  gracePeriod: 'grace-period',
  upstreamProbeInterval: 'upstream-probe-interval',
  elbv2PollInterval: 'elbv2-poll-interval',
  headerTimeout: 'header-timeout',
  keepAliveTimeout: 'keep-alive-timeout',
  upstreamTimeout: 'upstream-timeout',
  upstreamConnectTimeout: 'upstream-connect-timeout',
}

/**
 * The durations one drainpipe runs with: the lab's overrides (a regime that raises --max-wait),
 * else the build's own default as its --help states it ("drainpipe with its defaults"), else the
 * lab's fallback.
 */
export function resolveDurations(build: DrainpipeBuild, overrides: Partial<DrainpipeDurations>): DrainpipeDurations {
  const out = { ...DRAINPIPE_DURATIONS }
  for (const key of Object.keys(FLAG) as Array<keyof DrainpipeDurations>) {
    const fromBuild = build.defaults.get(FLAG[key])
    out[key] = overrides[key] ?? fromBuild ?? DRAINPIPE_DURATIONS[key]
  }
  return out
}

export interface ScaledArgs {
  args: string[]
  /** Human-readable notes: durations not scaled, or raised to the wall-clock floor. */
  unscaled: string[]
}

/**
 * The duration flags for one drainpipe container. `windowFloorWallSeconds` raises the quiet
 * window's floor to a wall-clock minimum (a harness stall of that length must not look like
 * the LB stopping); 0 scales it like everything else.
 */
export function scaledDurationArgs(
  build: DrainpipeBuild,
  d: DrainpipeDurations,
  timeScale: number,
  opts: { elbv2: boolean; windowFloorWallSeconds: number },
): ScaledArgs {
  const args: string[] = []
  const unscaled: string[] = []
  const wall = (simSeconds: number): number => Math.round(simSeconds * timeScale * 1000) / 1000
  for (const key of Object.keys(FLAG) as Array<keyof DrainpipeDurations>) {
    const flag = FLAG[key]
    if (key === 'elbv2PollInterval' && !opts.elbv2) continue
    if (!build.flags.has(flag)) {
      unscaled.push(
        `--${flag}: not in this build${key === 'arrivalHistory' ? " (its arrival history is a fixed 60 s wall-clock, longer than a pod's whole simulated life: the rate is averaged over everything seen since start)" : ''}`,
      )
      continue
    }
    let value = wall(d[key])
    if (key === 'quietPeriodMin' && value < opts.windowFloorWallSeconds) {
      unscaled.push(
        `--quiet-period-min: ${d[key]} s scales to ${value} s wall, raised to ${opts.windowFloorWallSeconds} s wall (${round(opts.windowFloorWallSeconds / timeScale)} simulated s) so a harness stall is not taken for the LB stopping`,
      )
      value = opts.windowFloorWallSeconds
    }
    if (key === 'quietPeriodMax') value = Math.max(value, wall(d.quietPeriodMin), opts.windowFloorWallSeconds)
    args.push(`--${flag}`, String(value))
  }
  return { args, unscaled }
}

function round(x: number): number {
  return Math.round(x * 10) / 10
}
