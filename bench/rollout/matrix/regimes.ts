// The scenario matrix's regimes: named lab settings, each a traffic shape or an AWS behaviour
// that a termination strategy must survive. Every regime runs all strategies over several
// seeds. Rollouts replace every pod at once (maxSurge = replicas) so a run takes one lag
// window, and the load keeps going until no NLB node routes to an old target any more.
import type { LabOptions } from '../lab-options.js'
import type { DrainpipeDurations } from '../drainpipe-build.js'
import { parseDistribution } from '../model/distribution.js'
import { DEFAULT_STRATEGIES } from '../options.js'
import { blindSleepSecondsOf, FAST_LANE_HEALTH_CHECK, type StrategyName } from '../strategies.js'

export interface Regime {
  name: string
  /** What it models, one line. */
  about: string
  lab: Partial<Omit<LabOptions, 'drainpipe'>> & { drainpipe?: Partial<DrainpipeDurations> }
  /** drainpipe is expected to lose traffic here (the LB routes past what drainpipe is told to wait). */
  drainpipeExpectedToFail?: boolean
  /** Traffic-only drainpipe (no elbv2 to start the lag clock late) loses here by construction. */
  trafficOnlyExpectedToFail?: boolean
  /**
   * The blind fast lane (fail-hc+sleep-N) loses here by construction: the NLB fails open (keeps
   * routing to unhealthy targets past any fixed sleep), or resets connections in flight.
   */
  blindExpectedToFail?: boolean
}

const SPARSE_WARMUP = 120

export const REGIMES: Regime[] = [
  { name: 'dense', about: 'Poisson new connections, 2/s per pod', lab: { load: 'poisson', ratePerPod: 2 } },
  {
    name: 'sparse',
    about: 'Poisson, 0.05/s per pod (4 pods)',
    lab: { load: 'poisson', ratePerPod: 0.05, replicas: 4, warmupSeconds: SPARSE_WARMUP },
  },
  {
    name: 'very-sparse',
    about: 'Poisson, 0.005/s per pod (6 pods: about 2 requests reach old pods in a lag window)',
    lab: { load: 'poisson', ratePerPod: 0.005, replicas: 6, warmupSeconds: SPARSE_WARMUP },
  },
  {
    name: 'bursty',
    about: 'on/off bursts (on ~10 s, off ~30 s), 0.5/s per pod on average',
    lab: { load: 'bursty', ratePerPod: 0.5, burstOnSeconds: 10, burstOffSeconds: 30 },
  },
  {
    name: 'keep-alive',
    about: '12 keep-alive clients, think time ~2 s: new connections only when a server closes one',
    lab: { load: 'keepalive', keepAliveClients: 12, thinkSeconds: 2 },
  },
  {
    name: 'staggered',
    about: 'cross-zone on, node lags 40-60 s + 60 s per node (stop ~50/110/170 s), Poisson 1.5/s per pod',
    lab: { load: 'poisson', ratePerPod: 1.5, lag: '40-60', lagStaggerSeconds: 60, crossZone: true },
  },
  {
    name: 'long-tail',
    about: 'lag 90-150 s (60%) or 150-210 s (40%); drainpipe told --lb-lag-max 240 --max-wait 270, grace 340',
    lab: {
      load: 'poisson',
      ratePerPod: 0.5,
      lag: '90-150:0.6,150-210:0.4',
      gracePeriodSeconds: 340,
      drainpipe: { lbLagMax: 240, maxWait: 270 },
    },
  },
  {
    name: 'slow-controller',
    about:
      'the controller deregisters 30-90 s after termination starts; drainpipe --max-wait 300, grace 370. Sparse traffic alone cannot see it: the lag bound counts from SIGTERM, so traffic-only drainpipe is expected to lose; with elbv2 it counts from draining',
    lab: { load: 'poisson', ratePerPod: 0.5, controllerTerminationDelay: '30-90', gracePeriodSeconds: 370, drainpipe: { maxWait: 300 } },
    trafficOnlyExpectedToFail: true,
  },
  {
    name: 'throttled-api',
    about: 'account Describe* bucket burst 2, refill 0.2/s (shared by controller and pods)',
    lab: { load: 'poisson', ratePerPod: 0.5, describeBurst: 2, describeRefillPerSecond: 0.2 },
  },
  {
    name: 'lag-beyond-max-wait',
    about: "lag 200-260 s, beyond drainpipe's default --max-wait 180 / --lb-lag-max 180: drainpipe is expected to lose",
    lab: { load: 'poisson', ratePerPod: 0.5, lag: '200-260', gracePeriodSeconds: 300 },
    drainpipeExpectedToFail: true,
  },
  {
    name: 'fail-open',
    about:
      'every target unhealthy at once: 2 pods replaced together (maxSurge 0, maxUnavailable 2) and a slow controller (queue delay 90 s, terminating pods noticed 130 s late) that registers the new pods at ~90 s and deregisters the old ones once the new are healthy, so the NLB fails open to the old, unhealthy targets until a new one is healthy (~100 s); cross-zone on; Poisson 2/s per pod. The default lane routes until deregistration + lag, beyond --max-wait',
    lab: {
      load: 'poisson',
      ratePerPod: 2,
      replicas: 2,
      maxSurge: 0,
      maxUnavailable: 2,
      controllerQueueDelaySeconds: 90,
      controllerTerminationDelay: '130',
      gracePeriodSeconds: 300,
      // Cross-zone on: with it off, the nodes' views of the new pods converge at different
      // moments and for a moment no node has a routable target in its own AZ (the model's DNS
      // failover is per node, not per AZ's health), refusing connections whatever the strategy.
      crossZone: true,
    },
    drainpipeExpectedToFail: true,
    blindExpectedToFail: true,
  },
  {
    name: 'unhealthy-termination',
    about:
      'the misconfiguration: target_health_state.unhealthy.connection_termination.enabled=true for every strategy (the fast lane refuses at start-up and runs as pass); requests take 250 ms wall (5 simulated s at 0.05), so some are in flight when a node resets; Poisson 2/s per pod',
    lab: { load: 'poisson', ratePerPod: 2, unhealthyTermination: true, requestDelayMs: 250 },
    blindExpectedToFail: true,
  },
  {
    name: 'grpc',
    about:
      '12 gRPC channels (one long-lived HTTP/2 connection each), a unary call every ~2 s per channel, open loop; calls take 250 ms wall (5 simulated s at 0.05), so some are in flight at SIGTERM. A channel moves to another pod only when it reconnects: after a GOAWAY, or when its connection is cut',
    lab: { load: 'grpc', keepAliveClients: 12, thinkSeconds: 2, requestDelayMs: 250 },
  },
]

/** The matrix runs the lab's strategy set (the no-sidecar controls, the sleep sweep, drainpipe) and the fast lane, safe and blind. */
export const STRATEGY_SET: StrategyName[] = [...DEFAULT_STRATEGIES, 'drainpipe-fast-lane', 'fail-hc+sleep-60']

/** --quick: the cases that show the decision's failure modes (and a no-sidecar control), one seed. */
export const QUICK: { cases: Array<[regime: string, strategy: StrategyName]>; seeds: number } = {
  cases: [
    ['dense', 'none'],
    ['dense', 'drainpipe'],
    ['sparse', 'none'],
    ['sparse', 'drainpipe'],
    ['sparse', 'drainpipe+elbv2'],
    ['keep-alive', 'none'],
    ['keep-alive', 'drainpipe'],
    ['staggered', 'drainpipe'],
    ['dense', 'drainpipe-fast-lane'],
  ],
  seeds: 1,
}

/**
 * Whether a strategy can lose traffic in a regime by construction: none and elbv2-only stop
 * while the LB still routes; a sleep shorter than the longest the LB may route after SIGTERM
 * (controller delay + lag + stagger); drainpipe only where the regime says so.
 */
export function expectedToFail(strategy: StrategyName, regime: Regime, lab: LabOptions): boolean {
  if (strategy === 'none' || strategy === 'elbv2-only') return true
  const blind = blindSleepSecondsOf(strategy)
  if (blind !== undefined) {
    // Marked unhealthy within interval × threshold + timeout, then the node's unhealthy lag.
    const hc = FAST_LANE_HEALTH_CHECK
    const routesFor = hc.intervalSeconds! * hc.unhealthyThreshold! + hc.timeoutSeconds! + parseDistribution(lab.unhealthyLag).max
    return regime.blindExpectedToFail === true || blind < routesFor
  }
  // The fast lane's bound is the unhealthy lag, which no regime here stretches past --max-wait.
  if (strategy === 'drainpipe-fast-lane') return false
  const sleep = /^sleep-(\d+(?:\.\d+)?)$/.exec(strategy)
  if (sleep !== null) {
    const routesFor =
      lab.controllerQueueDelaySeconds +
      parseDistribution(lab.controllerTerminationDelay).max +
      parseDistribution(lab.lag).max +
      lab.lagStaggerSeconds * (lab.lbNodes - 1)
    return Number(sleep[1]) < routesFor
  }
  if (regime.trafficOnlyExpectedToFail === true && strategy !== 'drainpipe+elbv2') return true
  return regime.drainpipeExpectedToFail === true
}

/** The lab options of one regime on top of the matrix's base options. */
export function regimeOptions(base: LabOptions, regime: Regime): LabOptions {
  const { drainpipe, ...rest } = regime.lab
  const replicas = rest.replicas ?? base.replicas
  return { ...base, maxSurge: replicas, maxUnavailable: 0, ...rest, drainpipe: { ...base.drainpipe, ...drainpipe } }
}
