// The lab's flags: one table drives parsing, defaults and --help. Simulated seconds are AWS
// seconds; the lab runs them `--time-scale` times as fast.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEFAULTS, type LabOptions, type LoadKind } from './lab-options.js'
import { STRATEGIES, STRATEGY_HELP, parseStrategy, type StrategyName } from './strategies.js'
import { parseDistribution, NAMED } from './model/distribution.js'

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
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message)
  }
}

type NumberKey = { [K in keyof LabOptions]: LabOptions[K] extends number ? K : never }[keyof LabOptions]

interface NumberFlag {
  flag: string
  key: NumberKey
  help: string
  min: number
  max: number
  integer?: boolean
}

export const NUMBER_FLAGS: NumberFlag[] = [
  { flag: 'pods', key: 'replicas', help: 'Deployment replicas', min: 1, max: 50, integer: true },
  { flag: 'max-surge', key: 'maxSurge', help: 'rolling update maxSurge (pods)', min: 0, max: 50, integer: true },
  { flag: 'max-unavailable', key: 'maxUnavailable', help: 'rolling update maxUnavailable (pods)', min: 0, max: 50, integer: true },
  { flag: 'time-scale', key: 'timeScale', help: 'wall-clock seconds per simulated second (1 = AWS speed)', min: 0.001, max: 1 },
  {
    flag: 'seed',
    key: 'seed',
    help: "seed of every random draw (NLB lags, arrivals, think times, routing picks): a seed reproduces a run's schedule",
    min: 0,
    max: 2 ** 31,
    integer: true,
  },
  {
    flag: 'lag-stagger',
    key: 'lagStaggerSeconds',
    help: "NLB node i's lag is longer by i × this, simulated s (AZs that stop at different times)",
    min: 0,
    max: 3600,
  },
  {
    flag: 'deregistration-delay',
    key: 'deregistrationDelaySeconds',
    help: 'deregistration_delay.timeout_seconds (AWS default 300)',
    min: 0,
    max: 3600,
  },
  { flag: 'hc-interval', key: 'healthCheckIntervalSeconds', help: 'health-check interval, simulated s (LBC default 10)', min: 1, max: 300 },
  { flag: 'hc-healthy-threshold', key: 'healthyThreshold', help: 'healthy threshold (LBC default 2)', min: 1, max: 10, integer: true },
  {
    flag: 'hc-unhealthy-threshold',
    key: 'unhealthyThreshold',
    help: 'unhealthy threshold (LBC default 2)',
    min: 1,
    max: 10,
    integer: true,
  },
  { flag: 'lb-nodes', key: 'lbNodes', help: 'NLB nodes (AZs), each health-checks from its own address', min: 1, max: 6, integer: true },
  { flag: 'grace', key: 'gracePeriodSeconds', help: 'terminationGracePeriodSeconds, simulated s', min: 0, max: 3600 },
  { flag: 'sleep', key: 'sleepSeconds', help: "the sleep strategy's preStop sleep, simulated s", min: 0, max: 3600 },
  {
    flag: 'readiness-period',
    key: 'readinessPeriodSeconds',
    help: 'readinessProbe.periodSeconds, simulated s (Kubernetes default 10)',
    min: 1,
    max: 300,
  },
  {
    flag: 'controller-delay',
    key: 'controllerQueueDelaySeconds',
    help: 'controller queue delay before a reconcile, simulated s',
    min: 0,
    max: 300,
  },
  {
    flag: 'gate-poll',
    key: 'gatePollSeconds',
    help: 'controller re-check interval for pending readiness gates, simulated s (LBC: 15)',
    min: 0.1,
    max: 300,
  },
  { flag: 'load-parallel', key: 'parallel', help: 'concurrent clients', min: 1, max: 64, integer: true },
  { flag: 'load-connections', key: 'connections', help: 'keep-alive connections per client', min: 1, max: 64, integer: true },
  {
    flag: 'load-requests-per-connection',
    key: 'requestsPerConnection',
    help: 'requests per connection before it is replaced by a new one',
    min: 1,
    max: 100000,
    integer: true,
  },
  {
    flag: 'request-delay-ms',
    key: 'requestDelayMs',
    help: 'app time per request, ms (in-flight work during the drain)',
    min: 0,
    max: 60000,
    integer: true,
  },
  {
    flag: 'rate',
    key: 'ratePerPod',
    help: 'poisson/bursty load: mean new connections per simulated s per replica',
    min: 0.0001,
    max: 1000,
  },
  { flag: 'burst-on', key: 'burstOnSeconds', help: 'bursty load: mean length of an "on" period, simulated s', min: 0.1, max: 3600 },
  { flag: 'burst-off', key: 'burstOffSeconds', help: 'bursty load: mean length of an "off" period, simulated s', min: 0.1, max: 3600 },
  {
    flag: 'clients',
    key: 'keepAliveClients',
    help: 'keepalive/grpc load: clients, each on one keep-alive connection (grpc: one channel, one HTTP/2 connection)',
    min: 1,
    max: 1000,
    integer: true,
  },
  {
    flag: 'think',
    key: 'thinkSeconds',
    help: "keepalive load: mean think time between a client's requests; grpc: mean gap between a channel's calls (open loop), simulated s",
    min: 0.01,
    max: 3600,
  },
  {
    flag: 'request-timeout',
    key: 'requestTimeoutSeconds',
    help: 'open-loop and grpc load: request timeout (grpc: the call deadline), simulated s',
    min: 0.1,
    max: 3600,
  },
  { flag: 'warmup', key: 'warmupSeconds', help: "simulated s of load before the rollout (drainpipe's arrival history)", min: 0, max: 3600 },
  { flag: 'app-keep-alive', key: 'appKeepAliveSeconds', help: "the app's HTTP keep-alive timeout, simulated s", min: 0.1, max: 3600 },
  {
    flag: 'window-floor-wall',
    key: 'windowFloorWallSeconds',
    help: "wall-clock floor of drainpipe's quiet window (--quiet-period-min) and of the NLB's health-check timeout, so a harness stall is not taken for the LB stopping or a target failing; 0 scales them like everything else",
    min: 0,
    max: 60,
  },
  { flag: 'describe-burst', key: 'describeBurst', help: 'account-wide Describe* bucket size (AWS: 40)', min: 1, max: 10000, integer: true },
  { flag: 'describe-refill', key: 'describeRefillPerSecond', help: 'Describe* tokens per simulated s (AWS: 10)', min: 0.01, max: 10000 },
  {
    flag: 'mutate-burst',
    key: 'mutateBurst',
    help: 'account-wide Register/Deregister bucket size (AWS does not publish it)',
    min: 1,
    max: 10000,
    integer: true,
  },
  { flag: 'mutate-refill', key: 'mutateRefillPerSecond', help: 'Register/Deregister tokens per simulated s', min: 0.01, max: 10000 },
  {
    flag: 'elbv2-poll-interval',
    key: 'elbv2PollSeconds',
    help: 'drainpipe+elbv2 and elbv2-only: DescribeTargetHealth poll interval, simulated s',
    min: 0.1,
    max: 300,
  },
  { flag: 'timeout', key: 'timeoutSeconds', help: 'wall-clock bound per strategy, s', min: 5, max: 3600 },
]

/** drainpipe's own durations the lab sets (simulated s; passed scaled). */
const DRAINPIPE_FLAGS: Array<{ flag: string; key: keyof LabOptions['drainpipe']; help: string }> = [
  { flag: 'max-wait', key: 'maxWait', help: 'drainpipe --max-wait' },
  { flag: 'lb-lag-max', key: 'lbLagMax', help: 'drainpipe --lb-lag-max (builds that have it)' },
  { flag: 'lb-unhealthy-lag-max', key: 'lbUnhealthyLagMax', help: 'drainpipe --lb-unhealthy-lag-max (drainpipe-fast-lane sets 60)' },
  { flag: 'min-wait', key: 'minWait', help: 'drainpipe --min-wait' },
  { flag: 'drain-timeout', key: 'drainTimeout', help: 'drainpipe --drain-timeout' },
  { flag: 'quiet-period-min', key: 'quietPeriodMin', help: 'drainpipe --quiet-period-min (see --window-floor-wall)' },
  { flag: 'quiet-period-max', key: 'quietPeriodMax', help: 'drainpipe --quiet-period-max' },
]

const CHOICE_FLAGS: Array<{ flag: string; values: string; help: string; def: (o: LabOptions) => string }> = [
  {
    flag: 'lag',
    values: 'SPEC',
    help: `NLB: how long new connections keep reaching a deregistered target, drawn per node and per target: N, A-B, A-B:W,C-D:W or ${Object.keys(NAMED).join('|')} (field = ${NAMED.field})`,
    def: (o) => o.lag,
  },
  {
    flag: 'unhealthy-lag',
    values: 'SPEC',
    help: "NLB: how long a node keeps opening new connections to a target after its own health checks marked it unhealthy, drawn per node and per target (AWS: 30-40 after the mark; the mark itself takes the checks' interval × unhealthy threshold)",
    def: (o) => o.unhealthyLag,
  },
  {
    flag: 'controller-termination-delay',
    values: 'SPEC',
    help: 'extra simulated s before the controller acts on a terminating pod, drawn per pod (slow controller: 30-90)',
    def: (o) => o.controllerTerminationDelay,
  },
  {
    flag: 'cross-zone',
    values: 'on|off',
    help: 'cross-zone load balancing (NLB default off: a node routes only to targets in its AZ)',
    def: (o) => (o.crossZone ? 'on' : 'off'),
  },
  {
    flag: 'deregistration-termination',
    values: 'on|off',
    help: 'deregistration_delay.connection_termination.enabled: reset open flows when the delay ends (the lag goes on regardless)',
    def: (o) => (o.deregistrationTermination ? 'on' : 'off'),
  },
  {
    flag: 'hc-while-draining',
    values: 'on|off',
    help: 'assumption: the NLB keeps health-checking draining targets (unverified in AWS)',
    def: (o) => (o.healthChecksWhileDraining ? 'on' : 'off'),
  },
  {
    flag: 'unhealthy-cuts-lag',
    values: 'on|off',
    help: "assumption: a node that marks a deregistered target unhealthy stops routing to it after its unhealthy lag, if that comes before its deregistration lag (the fast lane relies on it; off: a node's view freezes at deregistration)",
    def: (o) => (o.unhealthyCutsLag ? 'on' : 'off'),
  },
  {
    flag: 'unhealthy-termination',
    values: 'on|off',
    help: 'target_health_state.unhealthy.connection_termination.enabled: a node resets its flows to a target it marks unhealthy (requests in flight fail); off keeps them for the draining interval',
    def: () => "the strategy's target group: off for drainpipe-fast-lane and fail-hc+sleep-N (k8s/fast-lane), AWS's on otherwise",
  },
  {
    flag: 'unhealthy-draining-interval',
    values: 'N',
    help: 'target_health_state.unhealthy.draining_interval_seconds: with termination off, a node closes its flows to a target it marked unhealthy this long after (0: kept)',
    def: () => "the strategy's: 300 for the fast-lane strategies, AWS's 0 otherwise",
  },
  {
    flag: 'load',
    values: 'closed|poisson|bursty|keepalive|grpc',
    help: 'closed: clients (--load-*); poisson/bursty: open-loop new connections at --rate per replica; keepalive: --clients on keep-alive connections with --think; grpc: --clients gRPC channels (one HTTP/2 connection each) sending unary calls open-loop every ~--think s (drainpipe strategies get --upstream-protocol h2c)',
    def: (o) => o.load,
  },
  {
    flag: 'drainpipe',
    values: 'PATH',
    help: 'the drainpipe cli.js the pods run (an older build, to compare); its --help says which duration flags it takes',
    def: () => "this repository's dist/cli.js",
  },
  {
    flag: 'pod-spec',
    values: 'PATH',
    help: 'the injected strategy: a Deployment (or Pod) manifest, run through drainpipe inject; its pods take drainpipe settings, ports, hooks, probes and grace period from what inject wrote',
    def: () => 'examples/rollout-lab-deployment.yaml',
  },
]

export function renderHelp(): string {
  const lines = [
    'Rollout lab: a rolling update of real pods behind a simulated AWS NLB, under load,',
    'once per strategy, with the same load and timings. Prints a table and writes an SVG chart.',
    '',
    'Usage: npm run bench:rollout -- [flags]',
    '',
    `Strategies (--strategies a,b,…; default ${DEFAULT_STRATEGIES.join(',')}):`,
    ...[...STRATEGIES, 'sleep-N', 'fail-hc+sleep-N'].map((s) => `  ${s.padEnd(17)} ${STRATEGY_HELP[s]}`),
    '',
    'Flags (simulated seconds are AWS seconds, run --time-scale times as fast):',
    ...NUMBER_FLAGS.map((f) => `  --${`${f.flag} N`.padEnd(32)} ${f.help} (default ${f.key === 'podSubnet' ? 'random' : DEFAULTS[f.key]})`),
    ...DRAINPIPE_FLAGS.map(
      (f) => `  --${`drainpipe-${f.flag} N`.padEnd(32)} ${f.help}, simulated s (default: the build's own default, scaled)`,
    ),
    ...CHOICE_FLAGS.map((f) => `  --${`${f.flag} ${f.values}`.padEnd(32)} ${f.help} (default ${f.def(DEFAULTS)})`),
    `  --${'hc-protocol tcp|http'.padEnd(32)} NLB health checks: tcp connects and closes; http sends a LOCAL PROXY header (when enabled) then GET / (default tcp)`,
    `  --${'readiness-gate on|off'.padEnd(32)} the LBC pod readiness gate (default on)`,
    `  --${'drainpipe-log-level LEVEL'.padEnd(32)} drainpipe's --log-level in the pods (default info)`,
    `  --${'out DIR'.padEnd(32)} where the chart and pod logs go (default: a new directory in the system temp dir)`,
    `  --${'json'.padEnd(32)} last stdout line: {"strategies":[{"name","requests","failed","p99Ms","rolloutSeconds"},…]}`,
    `  --${'quiet'.padEnd(32)} no progress lines`,
    `  --${'help'.padEnd(32)} this text`,
  ]
  return `${lines.join('\n')}\n`
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

export const DEFAULT_STRATEGIES: StrategyName[] = [
  'none',
  'sleep-30',
  'sleep-90',
  'sleep-130',
  'sleep-180',
  'elbv2-only',
  'drainpipe',
  'drainpipe+elbv2',
]

export function parseCliArgs(argv: string[]): CliOptions {
  const lab: LabOptions = { ...DEFAULTS, drainpipe: { ...DEFAULTS.drainpipe } }
  const out: CliOptions = { lab, strategies: [...DEFAULT_STRATEGIES], json: false, quiet: false, out: undefined, help: false }
  const onOff = (flag: string, v: string): boolean => {
    if (v !== 'on' && v !== 'off') throw new UsageError(`--${flag} must be on or off, got ${JSON.stringify(v)}`, flag)
    return v === 'on'
  }
  const distribution = (flag: string, v: string): string => {
    try {
      parseDistribution(v)
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message}`, flag)
    }
    return v
  }
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
      case 'help':
        out.help = true
        continue
      case 'json':
        out.json = true
        continue
      case 'quiet':
        out.quiet = true
        continue
      case 'out':
        out.out = value()
        continue
      case 'drainpipe-log-level':
        lab.drainpipeLogLevel = value()
        continue
      case 'hc-protocol': {
        const v = value().toUpperCase()
        if (v !== 'TCP' && v !== 'HTTP') throw new UsageError(`--hc-protocol must be tcp or http, got ${JSON.stringify(v)}`, flag)
        lab.healthCheckProtocol = v
        continue
      }
      case 'readiness-gate':
        lab.readinessGate = onOff(flag, value())
        continue
      case 'cross-zone':
        lab.crossZone = onOff(flag, value())
        continue
      case 'deregistration-termination':
        lab.deregistrationTermination = onOff(flag, value())
        continue
      case 'hc-while-draining':
        lab.healthChecksWhileDraining = onOff(flag, value())
        continue
      case 'unhealthy-cuts-lag':
        lab.unhealthyCutsLag = onOff(flag, value())
        continue
      case 'unhealthy-termination':
        lab.unhealthyTermination = onOff(flag, value())
        continue
      case 'unhealthy-draining-interval': {
        const text = value()
        const n = Number(text)
        if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n > 360000)
          throw new UsageError(`--${flag} must be a whole number of seconds from 0 to 360000, got ${JSON.stringify(text)}`, flag)
        lab.unhealthyDrainingIntervalSeconds = n
        continue
      }
      case 'lag':
        lab.lag = distribution(flag, value())
        continue
      case 'unhealthy-lag':
        lab.unhealthyLag = distribution(flag, value())
        continue
      case 'controller-termination-delay':
        lab.controllerTerminationDelay = distribution(flag, value())
        continue
      case 'drainpipe':
        lab.drainpipePath = resolve(value())
        continue
      case 'pod-spec': {
        const path = resolve(value())
        if (!existsSync(path)) throw new UsageError(`--pod-spec: no such file ${JSON.stringify(path)}`, flag)
        lab.podSpecPath = path
        continue
      }
      case 'load': {
        const v = value()
        if (!['closed', 'poisson', 'bursty', 'keepalive', 'grpc'].includes(v))
          throw new UsageError(`--load must be closed, poisson, bursty, keepalive or grpc, got ${JSON.stringify(v)}`, flag)
        lab.load = v as LoadKind
        continue
      }
      case 'strategies':
      case 'strategy': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
        for (const n of names)
          if (parseStrategy(n) === undefined)
            throw new UsageError(
              `--${flag}: unknown strategy ${JSON.stringify(n)} (one of ${STRATEGIES.join(', ')}, sleep-N, fail-hc+sleep-N)`,
              flag,
            )
        if (names.length === 0) throw new UsageError(`--${flag} needs at least one strategy`, flag)
        out.strategies = [...new Set(names)] as StrategyName[]
        continue
      }
    }
    const dp = flag.startsWith('drainpipe-') ? DRAINPIPE_FLAGS.find((f) => `drainpipe-${f.flag}` === flag) : undefined
    if (dp !== undefined) {
      const text = value()
      const n = Number(text)
      if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 3600)
        throw new UsageError(`--${flag} must be a number from 0 to 3600, got ${JSON.stringify(text)}`, flag)
      lab.drainpipe[dp.key] = n
      continue
    }
    const spec = byFlag.get(flag)
    if (spec === undefined) throw new UsageError(`unknown flag --${flag} (see --help)`, flag)
    const text = value()
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer === true && !Number.isInteger(n))) {
      throw new UsageError(
        `--${flag} must be ${spec.integer === true ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max}, got ${JSON.stringify(text)}`,
        flag,
      )
    }
    lab[spec.key] = n
  }
  if (lab.maxSurge === 0 && lab.maxUnavailable === 0)
    throw new UsageError('--max-surge and --max-unavailable cannot both be 0', 'max-surge')
  return out
}
