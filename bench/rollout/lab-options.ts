// Everything one lab run depends on. Durations are simulated (AWS) seconds unless named wall;
// the lab runs them `timeScale` times as fast, drainpipe's included (see drainpipe-build.ts).
import { DRAINPIPE, LAB_DEPLOYMENT } from './strategies.js'
import type { DrainpipeDurations } from './drainpipe-build.js'

export type LoadKind = 'closed' | 'poisson' | 'bursty' | 'keepalive' | 'grpc'

export interface LabOptions {
  replicas: number
  maxSurge: number
  maxUnavailable: number
  /** 1 = AWS speed; 0.05 = twenty times faster. */
  timeScale: number
  /** Seed of every random draw (lags, arrivals, think times, routing picks). */
  seed: number
  /** NLB: new connections keep reaching a deregistered target for this long, drawn per node and per target (distribution spec). */
  lag: string
  /** NLB node i's lag is longer by i × this. */
  lagStaggerSeconds: number
  /** NLB: new connections keep reaching a target marked unhealthy for this long (distribution spec). */
  unhealthyLag: string
  crossZone: boolean
  deregistrationDelaySeconds: number
  /** deregistration_delay.connection_termination.enabled: reset open flows when the delay ends. */
  deregistrationTermination: boolean
  healthCheckIntervalSeconds: number
  healthCheckProtocol: 'TCP' | 'HTTP'
  healthyThreshold: number
  unhealthyThreshold: number
  /** Health checks keep going to draining targets (unverified in AWS). */
  healthChecksWhileDraining: boolean
  /** A node's unhealthy mark also ends a deregistered target's lag (unverified in AWS; the fast lane relies on it). */
  unhealthyCutsLag: boolean
  /**
   * target_health_state.unhealthy.connection_termination.enabled; undefined: as the strategy's
   * target group has it (off for the fast-lane strategies, k8s/fast-lane; AWS's default on otherwise).
   */
  unhealthyTermination: boolean | undefined
  /** target_health_state.unhealthy.draining_interval_seconds; undefined: the strategy's (300 fast lane, AWS default 0). */
  unhealthyDrainingIntervalSeconds: number | undefined
  /**
   * 250 s: drainpipe's own budget check wants --max-wait 190 + --drain-timeout 30 + a margin of 10%
   * (at most 10 s; the cap is wall-clock, so at a small time scale the margin is the full 10%).
   */
  gracePeriodSeconds: number
  sleepSeconds: number
  readinessPeriodSeconds: number
  readinessGate: boolean
  controllerQueueDelaySeconds: number
  /** Extra delay before the controller acts on a terminating pod, drawn per pod (distribution spec). */
  controllerTerminationDelay: string
  gatePollSeconds: number
  lbNodes: number
  /** Load. */
  load: LoadKind
  /**
   * closed: clients, connections each, requests per connection (load/load.ts). One request per
   * connection by default, so every request is a routing decision of the NLB's; more per
   * connection model keep-alive clients (a `Connection: close` is honoured, as by real clients).
   */
  parallel: number
  connections: number
  requestsPerConnection: number
  /** poisson/bursty: mean new connections per second per replica. */
  ratePerPod: number
  burstOnSeconds: number
  burstOffSeconds: number
  /** keepalive: clients (each one keep-alive connection) and their mean think time; grpc: channels and the mean gap between a channel's calls (open loop). */
  keepAliveClients: number
  thinkSeconds: number
  /**
   * Request timeout (open-loop load), simulated. 60 s, a common client default: a shorter one
   * at a small time scale would count CPU hiccups that do not scale (drainpipe loading the AWS
   * SDK on its first poll takes ~0.3 s wall whatever the scale) as timeouts.
   */
  requestTimeoutSeconds: number
  /** Each request asks the app to take this many wall-clock ms. */
  requestDelayMs: number
  /** Load before the rollout starts (the arrival history drainpipe estimates rates from). */
  warmupSeconds: number
  /** The app's HTTP keep-alive timeout. */
  appKeepAliveSeconds: number
  /** drainpipe. */
  drainpipePath: string
  /** drainpipe durations the lab sets (simulated s); the others are the build's own defaults, scaled. */
  drainpipe: Partial<DrainpipeDurations>
  /** Wall-clock floor of drainpipe's quiet window: a harness stall this long must not look like the LB stopping. 0 = scale it like the rest. */
  windowFloorWallSeconds: number
  drainpipeLogLevel: string
  /** The manifest the `injected` strategy runs through drainpipe inject and takes its pods from. */
  podSpecPath: string
  /** Where pod logs go. */
  runDir: string
  /** Wall-clock bound on the whole scenario. */
  timeoutSeconds: number
  /** Account-wide ELBv2 API buckets (per simulated second). */
  describeBurst: number
  describeRefillPerSecond: number
  mutateBurst: number
  mutateRefillPerSecond: number
  /** elbv2 observer and elbv2-only strategy poll interval. */
  elbv2PollSeconds: number
  /** Pods get 127.<podSubnet>.<strategy>.<n>. Default: random per run, so concurrent runs do not collide. */
  podSubnet: number
}

export const DEFAULTS: LabOptions = {
  replicas: 3,
  maxSurge: 1,
  maxUnavailable: 0,
  timeScale: 0.05,
  seed: 1,
  lag: 'field',
  lagStaggerSeconds: 0,
  unhealthyLag: '30-40',
  crossZone: false,
  deregistrationDelaySeconds: 300,
  deregistrationTermination: false,
  healthCheckIntervalSeconds: 10,
  healthCheckProtocol: 'TCP',
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  healthChecksWhileDraining: true,
  unhealthyCutsLag: true,
  unhealthyTermination: undefined,
  unhealthyDrainingIntervalSeconds: undefined,
  gracePeriodSeconds: 250,
  sleepSeconds: 30,
  readinessPeriodSeconds: 10,
  readinessGate: true,
  controllerQueueDelaySeconds: 1,
  controllerTerminationDelay: '0',
  gatePollSeconds: 15,
  lbNodes: 3,
  load: 'closed',
  parallel: 2,
  connections: 8,
  requestsPerConnection: 1,
  ratePerPod: 2,
  burstOnSeconds: 10,
  burstOffSeconds: 30,
  keepAliveClients: 12,
  thinkSeconds: 2,
  requestTimeoutSeconds: 60,
  requestDelayMs: 5,
  warmupSeconds: 20,
  appKeepAliveSeconds: 65,
  drainpipePath: DRAINPIPE,
  drainpipe: {},
  windowFloorWallSeconds: 0.4,
  drainpipeLogLevel: 'info',
  podSpecPath: LAB_DEPLOYMENT,
  runDir: '',
  timeoutSeconds: 120,
  describeBurst: 40,
  describeRefillPerSecond: 10,
  mutateBurst: 20,
  mutateRefillPerSecond: 5,
  elbv2PollSeconds: 10,
  podSubnet: 2 + Math.floor(Math.random() * 98),
}
