// The lab's flags: one table drives parsing, defaults and --help. Simulated seconds are AWS
// seconds; the lab runs them `--time-scale` times as fast.
import { DEFAULTS, type LabOptions } from './scenario.js'
import { STRATEGIES, STRATEGY_HELP, type StrategyName } from './strategies.js'

export interface CliOptions {
  lab: LabOptions
  strategies: StrategyName[]
  json: boolean
  quiet: boolean
  out: string | undefined
  help: boolean
}

export class UsageError extends Error {
  readonly code = 'ERR_LAB_USAGE'
  constructor(message: string, readonly flag?: string) { super(message) }
}

type NumberKey = { [K in keyof LabOptions]: LabOptions[K] extends number ? K : never }[keyof LabOptions]

interface NumberFlag { flag: string, key: NumberKey, help: string, min: number, max: number, integer?: boolean }

export const NUMBER_FLAGS: NumberFlag[] = [
  { flag: 'pods', key: 'replicas', help: 'Deployment replicas', min: 1, max: 50, integer: true },
  { flag: 'max-surge', key: 'maxSurge', help: 'rolling update maxSurge (pods)', min: 0, max: 50, integer: true },
  { flag: 'max-unavailable', key: 'maxUnavailable', help: 'rolling update maxUnavailable (pods)', min: 0, max: 50, integer: true },
  { flag: 'time-scale', key: 'timeScale', help: 'wall-clock seconds per simulated second (1 = AWS speed)', min: 0.001, max: 1 },
  { flag: 'lag', key: 'lagSeconds', help: 'simulated s the NLB keeps sending new connections after DeregisterTargets (AWS: ~120)', min: 0, max: 3600 },
  { flag: 'unhealthy-lag', key: 'unhealthyLagSeconds', help: 'simulated s new connections still reach a target marked unhealthy (AWS: 30-40)', min: 0, max: 3600 },
  { flag: 'deregistration-delay', key: 'deregistrationDelaySeconds', help: 'deregistration_delay.timeout_seconds (AWS default 300)', min: 0, max: 3600 },
  { flag: 'hc-interval', key: 'healthCheckIntervalSeconds', help: 'health-check interval, simulated s (LBC default 10)', min: 1, max: 300 },
  { flag: 'hc-healthy-threshold', key: 'healthyThreshold', help: 'healthy threshold (LBC default 2)', min: 1, max: 10, integer: true },
  { flag: 'hc-unhealthy-threshold', key: 'unhealthyThreshold', help: 'unhealthy threshold (LBC default 2)', min: 1, max: 10, integer: true },
  { flag: 'lb-nodes', key: 'lbNodes', help: 'NLB nodes (AZs), each health-checks from its own address', min: 1, max: 6, integer: true },
  { flag: 'grace', key: 'gracePeriodSeconds', help: 'terminationGracePeriodSeconds, simulated s', min: 0, max: 3600 },
  { flag: 'sleep', key: 'sleepSeconds', help: 'the sleep strategy\'s preStop sleep, simulated s', min: 0, max: 3600 },
  { flag: 'readiness-period', key: 'readinessPeriodSeconds', help: 'readinessProbe.periodSeconds, simulated s (Kubernetes default 10)', min: 1, max: 300 },
  { flag: 'controller-delay', key: 'controllerQueueDelaySeconds', help: 'controller queue delay before a reconcile, simulated s', min: 0, max: 300 },
  { flag: 'gate-poll', key: 'gatePollSeconds', help: 'controller re-check interval for pending readiness gates, simulated s (LBC: 15)', min: 0.1, max: 300 },
  { flag: 'load-parallel', key: 'parallel', help: 'concurrent autocannon instances', min: 1, max: 64, integer: true },
  { flag: 'load-connections', key: 'connections', help: 'connections per autocannon instance', min: 1, max: 64, integer: true },
  { flag: 'load-requests-per-connection', key: 'requestsPerConnection', help: 'requests per connection before it is replaced by a new one', min: 1, max: 100000, integer: true },
  { flag: 'request-delay-ms', key: 'requestDelayMs', help: 'app time per request, ms (in-flight work during the drain)', min: 0, max: 60000, integer: true },
  { flag: 'warmup', key: 'warmupSeconds', help: 'wall-clock s of load before the rollout', min: 0, max: 600 },
  { flag: 'quiet-period-min', key: 'quietPeriodMinSeconds', help: 'drainpipe --quiet-period-min, wall-clock s, not scaled: gaps in the load generator are wall-clock', min: 0, max: 600 },
  { flag: 'describe-burst', key: 'describeBurst', help: 'account-wide Describe* bucket size (AWS: 40)', min: 1, max: 10000, integer: true },
  { flag: 'describe-refill', key: 'describeRefillPerSecond', help: 'Describe* tokens per simulated s (AWS: 10)', min: 0.01, max: 10000 },
  { flag: 'mutate-burst', key: 'mutateBurst', help: 'account-wide Register/Deregister bucket size (AWS does not publish it)', min: 1, max: 10000, integer: true },
  { flag: 'mutate-refill', key: 'mutateRefillPerSecond', help: 'Register/Deregister tokens per simulated s', min: 0.01, max: 10000 },
  { flag: 'elbv2-poll-interval', key: 'elbv2PollSeconds', help: 'drainpipe+elbv2: DescribeTargetHealth poll interval, simulated s', min: 0.1, max: 300 },
  { flag: 'timeout', key: 'timeoutSeconds', help: 'wall-clock bound per strategy, s', min: 5, max: 3600 },
]

export function renderHelp(): string {
  const lines = [
    'Rollout lab: a rolling update of real pods behind a simulated AWS NLB, under autocannon load,',
    'once per strategy, with the same load and timings. Prints a table and writes an SVG chart.',
    '',
    'Usage: npm run bench:rollout -- [flags]',
    '',
    'Strategies (--strategies a,b,…; default none,sleep,drainpipe,drainpipe+elbv2):',
    ...STRATEGIES.map((s) => `  ${s.padEnd(17)} ${STRATEGY_HELP[s]}`),
    '',
    'Flags (simulated seconds are AWS seconds, run --time-scale times as fast):',
    ...NUMBER_FLAGS.map((f) => `  --${`${f.flag} N`.padEnd(32)} ${f.help} (default ${DEFAULTS[f.key]})`),
    `  --${'hc-protocol tcp|http'.padEnd(32)} NLB health checks: tcp connects and closes; http sends a LOCAL PROXY header (when enabled) then GET / (default tcp)`,
    `  --${'readiness-gate on|off'.padEnd(32)} the LBC pod readiness gate (default on)`,
    `  --${'drainpipe-log-level LEVEL'.padEnd(32)} drainpipe's --log-level in the pods (default info)`,
    `  --${'out DIR'.padEnd(32)} where the chart and pod logs go (default: a new directory in the system temp dir)`,
    `  --${'json'.padEnd(32)} last stdout line: {"strategies":[{"name","requests","failed","p99Ms","rolloutSeconds"},…]}`,
    `  --${'quiet'.padEnd(32)} no progress lines`,
    `  --${'help'.padEnd(32)} this text`,
  ]
  return lines.join('\n') + '\n'
}

/** parseCliArgs for a command-line entry point: a usage error exits 2 with one line naming the flag. */
export function parseCliArgsOrExit(argv: string[], program: string): CliOptions {
  try {
    return parseCliArgs(argv)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${program}: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
}

export function parseCliArgs(argv: string[]): CliOptions {
  const lab: LabOptions = { ...DEFAULTS }
  const out: CliOptions = { lab, strategies: ['none', 'sleep', 'drainpipe', 'drainpipe+elbv2'], json: false, quiet: false, out: undefined, help: false }
  const byFlag = new Map(NUMBER_FLAGS.map((f) => [f.flag, f]))
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (flags start with --; see --help)`)
    const eq = arg.indexOf('=')
    const flag = arg.slice(2, eq === -1 ? undefined : eq)
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1)
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`--${flag} needs a value`, flag)
      return next
    }
    switch (flag) {
      case 'help': out.help = true; continue
      case 'json': out.json = true; continue
      case 'quiet': out.quiet = true; continue
      case 'out': out.out = value(); continue
      case 'drainpipe-log-level': lab.drainpipeLogLevel = value(); continue
      case 'hc-protocol': {
        const v = value().toUpperCase()
        if (v !== 'TCP' && v !== 'HTTP') throw new UsageError(`--hc-protocol must be tcp or http, got ${JSON.stringify(v)}`, flag)
        lab.healthCheckProtocol = v
        continue
      }
      case 'readiness-gate': {
        const v = value()
        if (v !== 'on' && v !== 'off') throw new UsageError(`--readiness-gate must be on or off, got ${JSON.stringify(v)}`, flag)
        lab.readinessGate = v === 'on'
        continue
      }
      case 'strategies':
      case 'strategy': {
        const names = value().split(',').map((s) => s.trim()).filter(Boolean)
        for (const n of names) if (!(STRATEGIES as readonly string[]).includes(n)) throw new UsageError(`--${flag}: unknown strategy ${JSON.stringify(n)} (one of ${STRATEGIES.join(', ')})`, flag)
        if (names.length === 0) throw new UsageError(`--${flag} needs at least one strategy`, flag)
        out.strategies = [...new Set(names)] as StrategyName[]
        continue
      }
    }
    const spec = byFlag.get(flag)
    if (spec === undefined) throw new UsageError(`unknown flag --${flag} (see --help)`, flag)
    const text = value()
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer === true && !Number.isInteger(n))) {
      throw new UsageError(`--${flag} must be ${spec.integer === true ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}, got ${JSON.stringify(text)}`, flag)
    }
    lab[spec.key] = n
  }
  if (lab.maxSurge === 0 && lab.maxUnavailable === 0) throw new UsageError('--max-surge and --max-unavailable cannot both be 0', 'max-surge')
  return out
}
