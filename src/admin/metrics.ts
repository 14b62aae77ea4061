// Every metric drainpipe exports, defined in one place. Hot paths get pre-bound label
// children (no label lookup per event); values that other modules already know are
// read at scrape time through collect() instead of being pushed.
//
// What happens on a pod port is labelled with the port's name (`port`: --port-name, --ports
// name=): a handful of configured values, so the series stay few. forPort(name) gives a port's
// ingress and forwarder the same Metrics shape with those children bound to their port.
import { createRequire } from 'node:module'
import type * as promClient from 'prom-client'
import { PROXY_ERROR_REASONS } from '../proxy-protocol/errors.js'
import { STATES, type State } from '../lifecycle/state.js'
import type { Elbv2CallOutcome } from '../lifecycle/observers/elbv2.js'

// prom-client's parts, not its index: the index also loads its Pushgateway (https, tls, zlib)
// and cluster aggregator, which drainpipe never uses: on Node 26, ~3 MiB anonymous memory and
// ~2 MiB of the node binary paged in, in every pod (docs/performance.md, "Memory"). prom-client
// is pinned to an exact version because these paths are not its public interface.
const requireCjs = createRequire(import.meta.url)
const client = {
  Registry: requireCjs('prom-client/lib/registry') as typeof promClient.Registry,
  Counter: requireCjs('prom-client/lib/counter') as typeof promClient.Counter,
  Gauge: requireCjs('prom-client/lib/gauge') as typeof promClient.Gauge,
  collectDefaultMetrics: requireCjs('prom-client/lib/defaultMetrics') as typeof promClient.collectDefaultMetrics,
}

export type ConnectionKind = 'client' | 'direct' | 'healthcheck'
export type RefusalReason = 'max_connections' | 'fd_limit' | 'untrusted_source' | 'header_timeout'
export type UpstreamErrorReason = 'connect' | 'timeout' | 'reset'
export const DECISION_BASES = ['evidence', 'fixed', 'lag-bound', 'max-wait', 'operator'] as const
export type DecisionBasis = (typeof DECISION_BASES)[number]

/** What the last deregistration decision rested on (for auditing a rollout afterwards). */
export interface DecisionRecord {
  basis: DecisionBasis
  falseStopBound: number | null
  longestWindowSeconds: number | null
  revocations: number
  lagDeadlineSeconds: number | null
}

/** A counter with one more label beside `port`, bound to a port. */
export interface PortLabelled {
  labels(value: string): promClient.Counter.Internal
}

/** What one pod port counts: its children of the per-port metrics. */
export interface PortMetrics {
  readonly accepted: Record<ConnectionKind, promClient.Counter.Internal>
  readonly healthChecks: Record<'empty' | 'local', promClient.Counter.Internal>
  readonly refused: Record<RefusalReason, promClient.Counter.Internal>
  readonly headerErrors: PortLabelled
  readonly crcMismatchAccepted: promClient.Counter.Internal
  readonly httpRequests: promClient.Counter.Internal
  readonly httpResponses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', promClient.Counter.Internal>
  readonly upstreamErrors: Record<UpstreamErrorReason, promClient.Counter.Internal>
  readonly http2Connections: promClient.Counter.Internal
  readonly http2Streams: promClient.Counter.Internal
  readonly http2Resets: Record<'client' | 'upstream', promClient.Counter.Internal>
  readonly http2Goaways: Record<'terminate' | 'max_age' | 'idle', promClient.Counter.Internal>
  readonly http2StreamsCut: Record<'drain_timeout' | 'max_age_grace', promClient.Counter.Internal>
  readonly acceptErrors: PortLabelled
}

/** The registry's metrics; the per-port ones bound to the first port (forPort for the others). */
export interface Metrics extends PortMetrics {
  readonly registry: promClient.Registry
  /** The same metrics with the per-port ones bound to port `name`. */
  forPort(name: string): Metrics
  readonly transitions: promClient.Counter<'to'>
  readonly elbv2Calls: Record<Elbv2CallOutcome, promClient.Counter.Internal>
  readonly lastConnectionSeconds: promClient.Gauge
  readonly deregistrationObservedSeconds: promClient.Gauge
  readonly drainSeconds: promClient.Gauge
  readonly drainCut: promClient.Counter
  recordDecision(d: DecisionRecord): void
  /** Values read at scrape time. */
  bind(sources: MetricSources): void
}

export interface MetricSources {
  state(): State
  ports(): readonly PortMetricSource[]
}

/** One pod port's values read at scrape time. */
export interface PortMetricSource {
  readonly name: string
  activeConnections(): number
  upstreamReachable(): boolean
  acceptedSinceUnready(): number
  requestsSinceUnready(): number
}

/** `ports`: the pod ports' names, the first the --listen port (their series start at 0). */
export function createMetrics(ports: readonly string[] = ['']): Metrics {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'drainpipe_' })
  let sources: MetricSources | undefined
  const reg = { registers: [registry] }

  const accepted = new client.Counter({
    ...reg,
    name: 'drainpipe_connections_accepted_total',
    help: 'Pod-port connections by kind: client (PROXY header), direct (no header), healthcheck (zero-byte probe or LOCAL header).',
    labelNames: ['port', 'kind'],
  })
  const healthChecks = new client.Counter({
    ...reg,
    name: 'drainpipe_health_checks_total',
    help: 'Load-balancer health checks answered without touching the app, by type: empty (TCP connect+close), local (PROXY v2 LOCAL header).',
    labelNames: ['port', 'type'],
  })
  const refused = new client.Counter({
    ...reg,
    name: 'drainpipe_connections_refused_total',
    help: 'Connections closed before forwarding, by reason.',
    labelNames: ['port', 'reason'],
  })
  const headerErrors = new client.Counter({
    ...reg,
    name: 'drainpipe_proxy_header_errors_total',
    help: 'Connections closed for an invalid PROXY header, by reason.',
    labelNames: ['port', 'reason'],
  })
  const upstreamErrors = new client.Counter({
    ...reg,
    name: 'drainpipe_upstream_errors_total',
    help: 'Failures talking to the app: connect (refused/unreachable, 502), timeout (504), reset (app closed mid-response).',
    labelNames: ['port', 'reason'],
  })
  const httpResponses = new client.Counter({
    ...reg,
    name: 'drainpipe_http_responses_total',
    help: 'http mode: responses sent to clients by status class (HTTP/1.1 and HTTP/2).',
    labelNames: ['port', 'class'],
  })
  const http2Resets = new client.Counter({
    ...reg,
    name: 'drainpipe_http2_resets_total',
    help: 'http mode, HTTP/2 streams reset, by who reset them: client (an RST_STREAM from the client, or its connection lost mid-stream: the stream to the app is cancelled) or upstream (the app reset its stream: the client gets RST_STREAM with the same code).',
    labelNames: ['port', 'direction'],
  })
  const http2Goaways = new client.Counter({
    ...reg,
    name: 'drainpipe_http2_goaways_total',
    help: 'http mode, HTTP/2 client connections sent the graceful GOAWAY sequence, by reason: terminate (termination started, or a connection opened since), max_age (--http2-max-connection-age), idle (no stream for --keep-alive-timeout).',
    labelNames: ['port', 'reason'],
  })
  const http2StreamsCut = new client.Counter({
    ...reg,
    name: 'drainpipe_http2_streams_cut_total',
    help: 'http mode, HTTP/2 streams still open that drainpipe ended (gRPC calls with UNAVAILABLE where it could be sent, then RST_STREAM), by reason: drain_timeout (--drain-timeout), max_age_grace (--http2-max-connection-age-grace).',
    labelNames: ['port', 'reason'],
  })
  const elbv2Calls = new client.Counter({
    ...reg,
    name: 'drainpipe_elbv2_calls_total',
    help: 'DescribeTargetHealth calls by outcome (throttled = the account-wide API bucket said Throttling).',
    labelNames: ['outcome'],
  })

  new client.Gauge({
    ...reg,
    name: 'drainpipe_connections_active',
    help: 'Open pod-port connections (reading a header, forwarding, or draining).',
    labelNames: ['port'],
    collect() {
      for (const p of sources?.ports() ?? []) this.labels(p.name).set(p.activeConnections())
    },
  })
  new client.Gauge({
    ...reg,
    name: 'drainpipe_upstream_reachable',
    help: "1 when the last background probe reached the port's app.",
    labelNames: ['port'],
    collect() {
      for (const p of sources?.ports() ?? []) this.labels(p.name).set(p.upstreamReachable() ? 1 : 0)
    },
  })
  new client.Gauge({
    ...reg,
    name: 'drainpipe_state',
    help: 'Lifecycle state: 1 for the current one.',
    labelNames: ['state'],
    collect() {
      const now = sources?.state()
      for (const s of STATES) this.labels(s).set(s === now ? 1 : 0)
    },
  })
  new client.Gauge({
    ...reg,
    name: 'drainpipe_connections_after_unready',
    help: 'Client connections accepted after readiness failed (termination started): the load balancer was still sending.',
    labelNames: ['port'],
    collect() {
      for (const p of sources?.ports() ?? []) this.labels(p.name).set(p.acceptedSinceUnready())
    },
  })
  new client.Gauge({
    ...reg,
    name: 'drainpipe_requests_after_unready',
    help: 'http mode: requests received after readiness failed.',
    labelNames: ['port'],
    collect() {
      for (const p of sources?.ports() ?? []) this.labels(p.name).set(p.requestsSinceUnready())
    },
  })

  // Children are bound once for the hot path and start at 0, so every series is exported
  // (a rate() over a series that appears mid-way misses its first increments).
  const byLabel = <K extends string>(c: promClient.Counter<string>, keys: readonly K[], ...before: string[]) =>
    Object.fromEntries(
      keys.map((k) => {
        const child = c.labels(...before, k)
        child.inc(0)
        return [k, child]
      }),
    ) as Record<K, promClient.Counter.Internal>
  const crcMismatchAccepted = new client.Counter({
    ...reg,
    name: 'drainpipe_proxy_crc_mismatch_accepted_total',
    help: 'v2 headers whose CRC32C did not match, kept because --crc-mismatch accept.',
    labelNames: ['port'],
  })
  const httpRequests = new client.Counter({
    ...reg,
    name: 'drainpipe_http_requests_total',
    help: 'http mode: requests received from clients (HTTP/1.1 requests and HTTP/2 streams).',
    labelNames: ['port'],
  })
  const http2Connections = new client.Counter({
    ...reg,
    name: 'drainpipe_http2_connections_total',
    help: 'http mode: client connections that began with the HTTP/2 preface (h2c with prior knowledge, as gRPC clients connect).',
    labelNames: ['port'],
  })
  const http2Streams = new client.Counter({
    ...reg,
    name: 'drainpipe_http2_streams_total',
    help: 'http mode: HTTP/2 streams (requests) received from clients; each is also counted in drainpipe_http_requests_total.',
    labelNames: ['port'],
  })
  const acceptErrors = new client.Counter({
    ...reg,
    name: 'drainpipe_accept_errors_total',
    help: 'Errors from accept() on the pod port (EMFILE: out of file descriptors), by code.',
    labelNames: ['port', 'code'],
  })
  const portMetrics = new Map<string, PortMetrics>()
  const bindPort = (port: string): PortMetrics => {
    let m = portMetrics.get(port)
    if (m !== undefined) return m
    for (const r of PROXY_ERROR_REASONS) headerErrors.labels(port, r).inc(0)
    const one = (c: promClient.Counter<string>) => {
      const child = c.labels(port)
      child.inc(0)
      return child
    }
    m = {
      accepted: byLabel(accepted, ['client', 'direct', 'healthcheck'], port),
      healthChecks: byLabel(healthChecks, ['empty', 'local'], port),
      refused: byLabel(refused, ['max_connections', 'fd_limit', 'untrusted_source', 'header_timeout'], port),
      headerErrors: { labels: (reason) => headerErrors.labels(port, reason) },
      crcMismatchAccepted: one(crcMismatchAccepted),
      httpRequests: one(httpRequests),
      httpResponses: byLabel(httpResponses, ['1xx', '2xx', '3xx', '4xx', '5xx'], port),
      upstreamErrors: byLabel(upstreamErrors, ['connect', 'timeout', 'reset'], port),
      http2Connections: one(http2Connections),
      http2Streams: one(http2Streams),
      http2Resets: byLabel(http2Resets, ['client', 'upstream'], port),
      http2Goaways: byLabel(http2Goaways, ['terminate', 'max_age', 'idle'], port),
      http2StreamsCut: byLabel(http2StreamsCut, ['drain_timeout', 'max_age_grace'], port),
      acceptErrors: { labels: (code) => acceptErrors.labels(port, code) },
    }
    portMetrics.set(port, m)
    return m
  }
  for (const port of ports) bindPort(port)

  const basis = new client.Gauge({
    ...reg,
    name: 'drainpipe_decision_basis',
    help: 'What the last decision to drain rested on: 1 for evidence (every LB node quiet for its own window), fixed (--quiet-period), lag-bound (--lb-lag-max passed: too little traffic to judge by), max-wait (still unsure) or operator (a second SIGINT ended the wait).',
    labelNames: ['basis'],
  })
  const falseStop = new client.Gauge({
    ...reg,
    name: 'drainpipe_decision_false_stop_bound',
    help: 'Probability bound, under the stated assumptions, that the last evidence-based decision called a still-sending LB stopped (NaN when it did not rest on evidence).',
  })
  const longestWindow = new client.Gauge({
    ...reg,
    name: 'drainpipe_decision_quiet_window_seconds',
    help: 'The longest quiet window an LB node needed in the last decision.',
  })
  const revocations = new client.Gauge({
    ...reg,
    name: 'drainpipe_decision_revocations',
    help: 'Times "quiet" was revoked by a new connection or request during the last termination.',
  })
  const lagDeadline = new client.Gauge({
    ...reg,
    name: 'drainpipe_decision_lag_deadline_seconds',
    help: 'Seconds from termination start to deregistration + --lb-lag-max in the last termination (NaN if deregistration was never seen).',
  })
  const setOrNaN = (g: promClient.Gauge, v: number | null) => g.set(v ?? Number.NaN)
  for (const b of DECISION_BASES) basis.labels(b).set(0)

  const shared = {
    registry,
    recordDecision(d: DecisionRecord) {
      for (const b of DECISION_BASES) basis.labels(b).set(b === d.basis ? 1 : 0)
      setOrNaN(falseStop, d.falseStopBound)
      setOrNaN(longestWindow, d.longestWindowSeconds)
      revocations.set(d.revocations)
      setOrNaN(lagDeadline, d.lagDeadlineSeconds)
    },
    transitions: new client.Counter({
      ...reg,
      name: 'drainpipe_state_transitions_total',
      help: 'Lifecycle transitions, by the state entered.',
      labelNames: ['to'],
    }),
    elbv2Calls: byLabel(elbv2Calls, ['ok', 'throttled', 'error']),
    lastConnectionSeconds: new client.Gauge({
      ...reg,
      name: 'drainpipe_termination_last_connection_seconds',
      help: 'Seconds from termination start to the last new client connection (how long the LB kept sending).',
    }),
    deregistrationObservedSeconds: new client.Gauge({
      ...reg,
      name: 'drainpipe_termination_deregistration_observed_seconds',
      help: 'Seconds from termination start until every observer agreed the LB stopped (or --max-wait).',
    }),
    drainSeconds: new client.Gauge({
      ...reg,
      name: 'drainpipe_drain_duration_seconds',
      help: 'Seconds the last drain took, from closing the pod port to the last connection closed.',
    }),
    drainCut: new client.Counter({
      ...reg,
      name: 'drainpipe_drain_connections_cut_total',
      help: 'Connections still open at --drain-timeout, closed by drainpipe.',
    }),
    bind(s: MetricSources) {
      sources = s
    },
  }
  const forPort = (name: string): Metrics => ({ ...shared, ...bindPort(name), forPort })
  return forPort(ports[0] ?? '')
}
