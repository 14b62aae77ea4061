// Every option drainpipe takes is defined once, here: its flag, its environment twin, the key
// and type of its value in `Config`, its default, unit and help text. `Config` is derived from
// this table; `--help`, docs/configuration.md, the inject annotation table and the parser all
// read it, so they cannot drift apart. Durations are milliseconds from here on.
import { describeOverrun, graceBudget } from './lifecycle/grace-budget.js'
import {
  InvalidValue,
  parseArns,
  parseCidrs,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseNumber,
  parseObservers,
  parseOnOff,
  parsePositiveSeconds,
  parseQuietPeriod,
  parseSeconds,
  parseText,
  parseUrl,
  parsePortName,
  type HostPort,
} from './config/values.js'
import { ConfigError } from './errors.js'
import { checkPorts, parsePorts, podPorts, type PortOverride } from './config/ports.js'

export type { HostPort }
export { ConfigError }

type Section = 'Network' | 'PROXY protocol' | 'Forwarding' | 'Deregistration' | 'Draining' | 'Admin and logs'

export interface OptionSpec<K extends string = string, V = unknown> {
  /** flag name without the leading dashes */
  readonly flag: string
  /** its property in Config */
  readonly key: K
  readonly env: string
  readonly section: Section
  /** what the value looks like, for --help: HOST:PORT, SECONDS, ... */
  readonly placeholder: string
  /** default as text ('' = unset), parsed like a user value */
  readonly default: string
  /** with default '': where the value comes from instead, for --help and the docs */
  readonly defaultFrom?: string
  readonly help: string
  /** given more than once, the parsed lists are joined */
  readonly repeatable?: boolean
  /** never echoed in logs or /status */
  readonly secret?: boolean
  parse(text: string): V
  /** with default '': the value when nothing sets the option (else it is undefined) */
  unset?(parsed: { listen: HostPort }): V
}

export const DEFAULT_TRUSTED_PROXIES = '127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7'

/** An option whose default is '' is undefined when unset, unless it says what it is then. */
function option<const K extends string, T, const D extends string, U = undefined>(
  spec: Omit<OptionSpec<K, T>, 'env' | 'default' | 'unset'> & { env?: string; default: D; unset?: (parsed: { listen: HostPort }) => U },
): OptionSpec<K, D extends '' ? T | U : T> {
  return { env: `DRAINPIPE_${spec.flag.toUpperCase().replace(/-/g, '_')}`, ...spec } as OptionSpec<K, D extends '' ? T | U : T>
}

export const OPTIONS = [
  option({
    flag: 'listen',
    key: 'listen',
    section: 'Network',
    placeholder: 'HOST:PORT',
    default: '0.0.0.0:8080',
    parse: parseHostPort,
    help: 'The pod port: where the load balancer connects. Point the Service/target group at this port, not at the app.',
  }),
  option({
    flag: 'upstream',
    key: 'upstream',
    section: 'Network',
    placeholder: 'HOST:PORT',
    default: '127.0.0.1:3000',
    parse: parseHostPort,
    help: "The app, reached over the pod's loopback. Make the app listen on 127.0.0.1 so only drainpipe reaches it.",
  }),
  option({
    flag: 'mode',
    key: 'mode',
    section: 'Network',
    placeholder: 'http|tcp',
    default: 'http',
    parse: parseEnum(['http', 'tcp'] as const),
    help: 'http: parse HTTP/1.1 and HTTP/2 (h2c, as gRPC clients speak), add X-Forwarded-For/Forwarded, close keep-alives cleanly on drain (HTTP/2: graceful GOAWAY). tcp: a byte pipe for any protocol (TLS passthrough, databases); drain waits for connections to end.',
  }),
  option({
    flag: 'port-name',
    key: 'portName',
    section: 'Network',
    placeholder: 'NAME',
    default: '',
    defaultFrom: 'the --listen port number',
    parse: parsePortName,
    unset: (c) => String(c.listen.port),
    help: 'The name of the --listen port: its `port` label in /metrics and its section in /status. Name it when the pod has several ports (--ports), say http next to grpc.',
  }),
  option({
    flag: 'ports',
    key: 'ports',
    section: 'Network',
    placeholder: 'name=NAME,listen=HOST:PORT[,KEY=VALUE...]',
    default: '',
    parse: parsePorts,
    repeatable: true,
    unset: (): PortOverride[] => [],
    help: "More pod ports, each its own target group: the --listen port is the first, and each value adds one (repeat the flag, or separate ports with ';'). Keys: name (default: the listen port number), listen (required), and upstream, mode, proxy-protocol, trusted-proxies, upstream-proxy-protocol, upstream-protocol, forwarded-proto, xff, each taking that flag's values and defaulting to it; target-group-arn and target-port (elbv2: the port's own target groups, none by default, registered at its listen port by default). One lifecycle for all: ready when every port's app is reachable, draining once every port is quiet. See docs/kubernetes.md, \"Several ports\".",
  }),
  option({
    flag: 'admin',
    key: 'admin',
    section: 'Network',
    placeholder: 'HOST:PORT',
    default: '0.0.0.0:9901',
    parse: parseHostPort,
    help: 'Admin port: /readyz, /livez, /metrics, /status, /prestop. Must be reachable by the kubelet (probes, preStop) and Prometheus.',
  }),
  option({
    flag: 'health-check-listen',
    key: 'healthCheckListen',
    section: 'Network',
    placeholder: 'HOST:PORT',
    default: '',
    parse: parseHostPort,
    help: "A dedicated port for the load balancer's health checks (point service.beta.kubernetes.io/aws-load-balancer-healthcheck-port at it): TCP checks connect, HTTP checks get 200 while serving and the app is reachable, 503 otherwise. It closes when draining starts, or at termination start with --health-check-on-terminate fail: a TCP check can only be failed by refusing it, which the pod port must not do.",
  }),
  option({
    flag: 'proxy-protocol',
    key: 'proxyProtocol',
    section: 'PROXY protocol',
    placeholder: 'required|optional|off',
    default: 'optional',
    parse: parseEnum(['required', 'optional', 'off'] as const),
    help: 'required: a connection from a trusted proxy without a valid v1/v2 header is closed. optional: a header is used when present (in-cluster clients connect without one). off: bytes are payload (ALB, or NLB without proxy_protocol_v2.enabled).',
  }),
  option({
    flag: 'trusted-proxies',
    key: 'trustedProxies',
    section: 'PROXY protocol',
    placeholder: 'CIDR,...',
    default: DEFAULT_TRUSTED_PROXIES,
    parse: parseCidrs,
    help: "Sources allowed to send PROXY headers: the NLB's addresses are in your VPC. A header from any other source closes the connection. Narrow it to the VPC's CIDRs when pods are reachable from elsewhere.",
  }),
  option({
    flag: 'header-timeout',
    key: 'headerTimeoutMs',
    section: 'PROXY protocol',
    placeholder: 'SECONDS',
    default: '60',
    parse: parseSeconds,
    help: "How long a new connection may take to send its PROXY header (or, in optional mode, its first byte). The NLB sends the header only with the client's first bytes and browsers pre-connect and idle, so keep it well above a few seconds; lower it to shed idle connections sooner.",
  }),
  option({
    flag: 'proxy-header-max-bytes',
    key: 'proxyHeaderMaxBytes',
    section: 'PROXY protocol',
    placeholder: 'BYTES',
    default: '4096',
    parse: parseInteger(232, 65551),
    help: 'Largest v2 header accepted (16-byte preamble + length). The NLB sends 100 bytes; raise it only for senders with large TLVs (SSL, unique id).',
  }),
  option({
    flag: 'crc-mismatch',
    key: 'crcMismatch',
    section: 'PROXY protocol',
    placeholder: 'close|accept',
    default: 'close',
    parse: parseEnum(['close', 'accept'] as const),
    help: 'What a v2 header whose CRC32C TLV does not match does to its connection. accept keeps it and counts the mismatch, for senders with a broken checksum.',
  }),
  option({
    flag: 'stacked-headers',
    key: 'stackedHeaders',
    section: 'PROXY protocol',
    placeholder: 'reject|pass',
    default: 'reject',
    parse: parseEnum(['reject', 'pass'] as const),
    help: 'A second PROXY header right behind the first is one a client sent itself (the NLB does not strip it). reject closes such connections; pass forwards the second header to the app as payload.',
  }),
  option({
    flag: 'max-connections',
    key: 'maxConnections',
    section: 'Forwarding',
    placeholder: 'N',
    default: '0',
    parse: parseInteger(0, 10_000_000),
    help: 'Cap on open connections, per pod port. 0 derives one from the file-descriptor limit, (ulimit -n − descriptors open at start − min(64, limit/4)) / 2, split between the pod ports, keeping a reserve for the admin port and the app connections. Over the cap a new connection is closed at once, counted (reason max_connections, or fd_limit for the derived cap) and logged at most once a second.',
  }),
  option({
    flag: 'xff',
    key: 'xff',
    section: 'Forwarding',
    placeholder: 'replace|append',
    default: 'replace',
    parse: parseEnum(['replace', 'append'] as const),
    help: "http mode: replace drops X-Forwarded-For/Forwarded/X-Real-IP the client sent (behind an L4 NLB they are forgeable) and sets the PROXY header's client. append keeps the client's values in front, for chains of trusted proxies.",
  }),
  option({
    flag: 'forwarded-proto',
    key: 'forwardedProto',
    section: 'Forwarding',
    placeholder: 'auto|http|https',
    default: 'auto',
    parse: parseEnum(['auto', 'http', 'https'] as const),
    help: 'http mode: the scheme in X-Forwarded-Proto and Forwarded. auto says https when the PROXY header carries an SSL TLV or the client connected to port 443 (an NLB TLS listener), else http; set it when TLS ends at the load balancer on another port, or apps will redirect to https in a loop.',
  }),
  option({
    flag: 'upstream-proxy-protocol',
    key: 'upstreamProxyProtocol',
    section: 'Forwarding',
    placeholder: 'off|v1|v2',
    default: 'off',
    parse: parseEnum(['off', 'v1', 'v2'] as const),
    help: "tcp mode: send a PROXY header to the app carrying the client's addresses, for apps that read one themselves.",
  }),
  option({
    flag: 'upstream-protocol',
    key: 'upstreamProtocol',
    section: 'Forwarding',
    placeholder: 'h1|h2c',
    default: 'h1',
    parse: parseEnum(['h1', 'h2c'] as const),
    help: "http mode: how HTTP/2 clients' streams reach the app. h1: as HTTP/1.1 requests through the same pool as HTTP/1.1 clients (request trailers are dropped; gRPC needs h2c). h2c: as streams on HTTP/2 connections to the app (prior knowledge), trailers and resets passed both ways: set it for gRPC servers and other apps that speak h2c. HTTP/1.1 clients are forwarded over HTTP/1.1 either way. See docs/grpc.md.",
  }),
  option({
    flag: 'http2-max-connection-age',
    key: 'http2MaxConnectionAgeMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '0',
    parse: parseSeconds,
    help: "http mode: an HTTP/2 client connection older than this (±10% jitter) gets the graceful GOAWAY, and the client opens a new one for new calls, through the load balancer, like gRPC's MAX_CONNECTION_AGE. gRPC clients keep one connection per backend for as long as it lives, so without it new pods of a scale-up get none of their traffic. 0: never.",
  }),
  option({
    flag: 'http2-max-connection-age-grace',
    key: 'http2MaxConnectionAgeGraceMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '0',
    parse: parseSeconds,
    help: "http mode, with --http2-max-connection-age: streams still open this long after that GOAWAY are ended (gRPC calls with UNAVAILABLE, which clients retry), like gRPC's MAX_CONNECTION_AGE_GRACE. Set it when clients hold streams open indefinitely (watches, subscriptions), which otherwise keep an aged connection forever. 0: no bound.",
  }),
  option({
    flag: 'upstream-connect-timeout',
    key: 'upstreamConnectTimeoutMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '5',
    parse: parseSeconds,
    help: 'Time to connect to the app before answering 502 (http) or closing (tcp).',
  }),
  option({
    flag: 'upstream-timeout',
    key: 'upstreamTimeoutMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '60',
    parse: parseSeconds,
    help: 'http mode: time for the app to start its response (and, over HTTP/1.1, between body chunks) before answering 504. Raise it for slow endpoints, and for gRPC calls whose first response comes later.',
  }),
  option({
    flag: 'upstream-probe-interval',
    key: 'upstreamProbeIntervalMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '1',
    parse: parseSeconds,
    help: "How often the app's port is probed in the background; readiness and health-check answers use the last result, so they never wait on the app.",
  }),
  option({
    flag: 'keep-alive-timeout',
    key: 'keepAliveTimeoutMs',
    section: 'Forwarding',
    placeholder: 'SECONDS',
    default: '360',
    parse: parseSeconds,
    help: "http mode: how long an idle client keep-alive connection stays open. Above the NLB's 350 s idle timeout, so the client side ends idle connections and drainpipe never races a request with a close.",
  }),
  option({
    flag: 'deregistration',
    key: 'deregistration',
    section: 'Deregistration',
    placeholder: 'traffic[,elbv2][,healthcheck]',
    default: 'traffic',
    parse: parseObservers,
    help: 'Observers that must all agree, at the same moment, that the load balancer stopped sending new connections before draining starts. traffic: every LB node quiet for a window sized from its own traffic, or with too little traffic the lag bound (--lb-lag-max) passed. elbv2: DescribeTargetHealth says draining/unused, which starts the lag clock (it never ends the wait by itself). healthcheck: LB probes went silent.',
  }),
  option({
    flag: 'min-wait',
    key: 'minWaitMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '0',
    parse: parseSeconds,
    help: 'A floor: serve at least this long after termination starts. It never ends the wait by itself; the observers must still agree.',
  }),
  option({
    flag: 'max-wait',
    key: 'maxWaitMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '190',
    parse: parseSeconds,
    help: "The hard cap: start draining after this long even if the decision is still unsure (logged as a warning naming what was unsure; connections the LB still sends are then refused). Keep it above --lb-lag-max (the default leaves 10 s), plus the controller's delay and a poll interval when elbv2 starts the lag clock: a pod with too little traffic to judge by otherwise always ends here, with exit 3.",
  }),
  option({
    flag: 'quiet-period',
    key: 'quietPeriodMs',
    section: 'Deregistration',
    placeholder: 'SECONDS|auto',
    default: 'auto',
    parse: parseQuietPeriod,
    help: 'traffic observer: how long an LB node must send no new connection to count as stopped. auto derives it per node from its arrival rate before termination, long enough that calling a still-sending LB stopped has probability below 10^-6 over the whole termination. A fixed value is your own judgement (bursty or periodic traffic); nodes with no arrivals in the history still wait for the lag bound.',
  }),
  option({
    flag: 'quiet-period-min',
    key: 'quietPeriodMinMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '2',
    parse: parsePositiveSeconds,
    help: 'Floor of the auto quiet window (dense traffic calls for less; a floor absorbs connection set-up jitter).',
  }),
  option({
    flag: 'quiet-period-max',
    key: 'quietPeriodMaxMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '60',
    parse: parsePositiveSeconds,
    help: 'The longest auto quiet window evidence may call for. A node whose traffic is too sparse to support the target within it has no evidence: the decision waits for the lag bound (--lb-lag-max) instead. Raise it to let moderately sparse pods finish before the lag bound.',
  }),
  option({
    flag: 'arrival-history',
    key: 'arrivalHistoryMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '60',
    parse: parsePositiveSeconds,
    help: 'How far back before termination the arrival rate of each LB node is measured. Longer smooths bursty traffic and gives sparse pods more evidence; shorter follows recent changes in load.',
  }),
  option({
    flag: 'lb-lag-max',
    key: 'lbLagMaxMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '180',
    parse: parseSeconds,
    help: 'The longest the load balancer may keep opening new connections after deregistration (NLB: ~90-180 s in field reports). Without enough traffic to judge by, drainpipe waits until deregistration (first draining seen by elbv2, else termination start) plus this. Raise it if your LB lags longer; lowering it trades safety for speed.',
  }),
  option({
    flag: 'health-check-on-terminate',
    key: 'healthCheckOnTerminate',
    section: 'Deregistration',
    placeholder: 'fail|pass',
    default: 'pass',
    parse: parseEnum(['fail', 'pass'] as const),
    help: "fail: the fast lane. From termination start the LB's HTTP health checks on the pod port get 503 and --health-check-listen closes, while client traffic is still served; the NLB stops new connections to an unhealthy target in ~30-40 s instead of ~2 minutes after deregistration, and the lag bound becomes --lb-unhealthy-lag-max. Needs target_health_state.unhealthy.connection_termination.enabled=false and an unhealthy draining interval that covers the drain; with target groups named (--target-group-arn) both are checked at start-up, and a target group that fails the check sets the mode back to pass. See docs/fast-lane.md.",
  }),
  option({
    flag: 'lb-unhealthy-lag-max',
    key: 'lbUnhealthyLagMaxMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '60',
    parse: parseSeconds,
    help: "With --health-check-on-terminate fail: the longest the load balancer may keep opening new connections after termination start, when health checks start failing (the checks' interval x unhealthy threshold to mark the target unhealthy, plus ~30-40 s observed after that). Replaces --lb-lag-max as the lag bound while the fast lane is on. Raise it with slower or less frequent health checks.",
  }),
  option({
    flag: 'lb-rate-drop',
    key: 'lbRateDrop',
    section: 'Deregistration',
    placeholder: 'FACTOR',
    default: '2',
    parse: parseNumber(1, 100),
    help: "How far a node's arrival rate may fall while the LB still routes to the pod: a rolling update's surge spreads new connections over more targets (maxSurge 100% halves each pod's share). Auto windows assume the rate stays above 1/FACTOR of its rate before termination.",
  }),
  option({
    flag: 'lb-sources',
    key: 'lbSources',
    section: 'Deregistration',
    placeholder: 'auto|per-source|pooled',
    default: 'auto',
    parse: parseEnum(['auto', 'per-source', 'pooled'] as const),
    help: 'per-source: each immediate peer (an LB node, one per AZ) is judged by its own rate, since nodes stop at different moments. pooled: all peers as one, when peers are clients (client IP preservation). auto: per source up to 16 peers in the history, else pooled.',
  }),
  option({
    flag: 'connection-close-on-terminate',
    key: 'connectionCloseOnTerminate',
    section: 'Deregistration',
    placeholder: 'on|off',
    default: 'on',
    parse: parseOnOff,
    help: 'http mode: from termination start every response carries Connection: close and every HTTP/2 connection gets a graceful GOAWAY (after its first stream, for one opened since), so keep-alive clients reconnect through the LB and the decision sees its routing (their requests count as activity too). Costs a handshake per request during the wait; off keeps keep-alives until draining starts, whose traffic the decision then cannot see (tcp mode always works that way).',
  }),
  option({
    flag: 'healthcheck-silence-multiple',
    key: 'healthcheckSilenceMultiple',
    section: 'Deregistration',
    placeholder: 'N',
    default: '3',
    parse: parseNumber(1, 100),
    help: 'healthcheck observer: an LB node counts as gone once silent for N times its learned probe interval.',
  }),
  option({
    flag: 'target-id',
    key: 'targetId',
    section: 'Deregistration',
    placeholder: 'IP',
    default: '',
    defaultFrom: '$POD_IP',
    env: 'DRAINPIPE_TARGET_ID',
    parse: parseText,
    help: "elbv2 observer: this pod's target id (its IP). Defaults to $POD_IP; set POD_IP from the downward API.",
  }),
  option({
    flag: 'target-port',
    key: 'targetPort',
    section: 'Deregistration',
    placeholder: 'PORT',
    default: '',
    defaultFrom: 'the --listen port',
    parse: parseInteger(1, 65535),
    unset: (c) => c.listen.port,
    help: 'elbv2 observer: the registered target port. Defaults to the --listen port.',
  }),
  option({
    flag: 'target-group-arn',
    key: 'targetGroupArns',
    section: 'Deregistration',
    placeholder: 'ARN',
    default: '',
    parse: parseArns,
    repeatable: true,
    unset: (): string[] => [],
    help: "elbv2 observer: target groups this pod's --listen port is registered in (repeat, or comma-separate). Every one must report draining or unused. Another pod port (--ports) names its own with target-group-arn=.",
  }),
  option({
    flag: 'aws-region',
    key: 'awsRegion',
    section: 'Deregistration',
    placeholder: 'REGION',
    default: '',
    parse: parseText,
    help: 'elbv2 observer: region. Defaults to the AWS SDK chain ($AWS_REGION, set by IRSA/pod identity).',
  }),
  option({
    flag: 'elbv2-endpoint',
    key: 'elbv2Endpoint',
    section: 'Deregistration',
    placeholder: 'URL',
    default: '',
    parse: parseUrl,
    help: 'elbv2 observer: API endpoint override, for VPC endpoints or an emulator.',
  }),
  option({
    flag: 'elbv2-poll-interval',
    key: 'elbv2PollIntervalMs',
    section: 'Deregistration',
    placeholder: 'SECONDS',
    default: '10',
    parse: parsePositiveSeconds,
    help: 'elbv2 observer: time between DescribeTargetHealth calls per target group (±20% jitter; doubled on each Throttling, up to 60 s). Describe* calls share one account-wide bucket of 10/s with the controller: keep terminating pods × target groups / interval well under 10.',
  }),
  option({
    flag: 'drain-timeout',
    key: 'drainTimeoutMs',
    section: 'Draining',
    placeholder: 'SECONDS',
    default: '30',
    parse: parseSeconds,
    help: 'Time in-flight requests, HTTP/2 streams and open tcp connections get to finish once draining starts; what remains is closed and counted (gRPC calls end with UNAVAILABLE where it can still be sent).',
  }),
  option({
    flag: 'grace-period',
    key: 'gracePeriodMs',
    section: 'Draining',
    placeholder: 'SECONDS',
    default: '',
    parse: parseSeconds,
    help: "The pod's terminationGracePeriodSeconds. When set, drainpipe refuses to start (exit 2) if --max-wait + --drain-timeout + a margin (10% of the two, at most 10 s, for the app's own exit) does not fit in it: the kubelet would SIGKILL it mid-drain. Set it, so a budget that cannot work fails at deploy time rather than in a rollout.",
  }),
  option({
    flag: 'admin-token',
    key: 'adminToken',
    section: 'Admin and logs',
    placeholder: 'TOKEN',
    default: '',
    parse: parseText,
    secret: true,
    help: 'When set, /prestop requires "Authorization: Bearer TOKEN": the normal posture (the kubelet calls preStop hooks from the node, and under a service mesh any workload reaches the pod from a loopback address). Unset, /prestop answers loopback clients only, except 127.0.0.6 (Istio\'s inbound passthrough), and start-up warns. Pass it via the environment.',
  }),
  option({
    flag: 'log-level',
    key: 'logLevel',
    section: 'Admin and logs',
    placeholder: 'LEVEL',
    default: 'info',
    parse: parseEnum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const),
    help: 'info: lifecycle and errors. debug: one line per connection and request.',
  }),
] as const

/** The configuration: one property per option, typed by its parser (durations in ms). */
export type Config = { -readonly [S in (typeof OPTIONS)[number] as S['key']]: S extends OptionSpec<string, infer V> ? V : never }
export type LogLevel = Config['logLevel']

export type ParseResult = { kind: 'config'; config: Config; warnings: string[] } | { kind: 'help' } | { kind: 'version' }

/**
 * Parse argv (without node and script) and the environment. Flags win over their
 * DRAINPIPE_* twins, which win over defaults. Throws ConfigError naming the flag.
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParseResult {
  const byFlag = new Map((OPTIONS as readonly OptionSpec[]).map((o) => [o.flag, o]))
  const given = new Map<string, string[]>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') return { kind: 'help' }
    if (arg === '--version' || arg === '-v') return { kind: 'version' }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}": options are --flag VALUE or --flag=VALUE (see --help)`)
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    const spec = byFlag.get(name)
    if (!spec) throw new ConfigError(`unknown flag --${name} (see --help for the options)`, name)
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      value = argv[i + 1]
      if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name} needs a value: ${spec.placeholder}`, name)
      i++
    }
    const list = given.get(name) ?? []
    if (list.length > 0 && !spec.repeatable) throw new ConfigError(`--${name} given more than once`, name)
    list.push(value)
    given.set(name, list)
  }

  const values: Record<string, unknown> = {}
  const unset: Array<OptionSpec> = []
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    let texts = given.get(spec.flag)
    let source = `--${spec.flag}`
    if (!texts && env[spec.env] !== undefined && env[spec.env] !== '') {
      texts = [env[spec.env]!]
      source = spec.env
    }
    if (!texts && spec.flag === 'target-id' && env.POD_IP) {
      texts = [env.POD_IP]
      source = 'POD_IP'
    }
    if (!texts) texts = spec.default === '' ? [] : [spec.default]
    if (texts.length === 0) unset.push(spec)
    const parsed: unknown[] = []
    for (const text of texts) {
      try {
        parsed.push(spec.parse(text))
      } catch (err) {
        if (!(err instanceof InvalidValue)) throw err
        const shown = spec.secret ? '(hidden)' : JSON.stringify(text)
        throw new ConfigError(`invalid ${source} ${shown}: expected ${err.accepted}`, spec.flag)
      }
    }
    values[spec.key] = spec.repeatable ? parsed.flat() : parsed[0]
  }
  // Every key of the table was set above, each by its own spec's parser: the one cast.
  const config = values as Config
  for (const spec of unset) values[spec.key] = spec.unset?.(config)
  return { kind: 'config', config, warnings: crossCheck(config) }
}

/** Checks between options: errors throw, doubts come back as warnings for the log. */
function crossCheck(c: Config): string[] {
  if (c.quietPeriodMinMs > c.quietPeriodMaxMs) {
    throw new ConfigError(
      `invalid --quiet-period-min: ${c.quietPeriodMinMs / 1000} s is above --quiet-period-max ${c.quietPeriodMaxMs / 1000} s`,
      'quiet-period-min',
    )
  }
  if (c.minWaitMs > c.maxWaitMs) {
    throw new ConfigError(`invalid --min-wait: ${c.minWaitMs / 1000} s is above --max-wait ${c.maxWaitMs / 1000} s`, 'min-wait')
  }
  if (c.deregistration.includes('elbv2')) {
    if (c.targetGroupArns.length === 0)
      throw new ConfigError('--deregistration elbv2 needs --target-group-arn (one per target group the pod is in)', 'target-group-arn')
    if (!c.targetId)
      throw new ConfigError('--deregistration elbv2 needs --target-id or $POD_IP (the pod IP, from the downward API)', 'target-id')
    if (c.targetPort === 0) throw new ConfigError('--deregistration elbv2 needs --target-port when --listen uses port 0', 'target-port')
  }
  const ports = podPorts(c)
  const portFlag = (i: number) => (i === 0 ? '--listen' : `--ports name=${ports[i]!.name}`)
  const clash = checkPorts(ports, portFlag)[0]
  if (clash) throw new ConfigError(clash.message, clash.flag)
  if (c.deregistration.includes('elbv2')) {
    // Each port's target groups deregister on their own: a port whose groups are not named would
    // let the lag clock start at another port's deregistration.
    const unnamed = ports.findIndex((p, i) => i > 0 && p.targetGroupArns.length === 0)
    if (unnamed !== -1)
      throw new ConfigError(
        `invalid ${portFlag(unnamed)}: --deregistration elbv2 needs each port's target groups; expected target-group-arn=ARN on it`,
        'port',
      )
    const portless = ports.findIndex((p) => p.targetPort === 0)
    if (portless > 0)
      throw new ConfigError(
        `invalid ${portFlag(portless)}: --deregistration elbv2 needs target-port=PORT when it listens on port 0`,
        'port',
      )
  }
  if (c.http2MaxConnectionAgeMs > 0 && ports.every((p) => p.mode !== 'http'))
    throw new ConfigError(
      '--http2-max-connection-age works in --mode http only (tcp mode does not parse HTTP/2)',
      'http2-max-connection-age',
    )
  const budget = graceBudget(c)
  if (!budget.fits) throw new ConfigError(describeOverrun(budget), 'grace-period')
  const warnings: string[] = []
  const taken = (port: number) => ports.findIndex((p) => p.listen.port === port && port !== 0)
  const adminClash = taken(c.admin.port)
  if (adminClash !== -1) {
    throw new ConfigError(`invalid --admin: port ${c.admin.port} is also the ${portFlag(adminClash)} port`, 'admin')
  }
  const hc = c.healthCheckListen
  const hcClash = hc ? taken(hc.port) : -1
  if (hc && hc.port !== 0 && (hcClash !== -1 || hc.port === c.admin.port)) {
    throw new ConfigError(
      `invalid --health-check-listen: port ${hc.port} is also the ${hcClash !== -1 ? portFlag(hcClash) : '--admin'} port`,
      'health-check-listen',
    )
  }
  if (c.http2MaxConnectionAgeGraceMs > 0 && c.http2MaxConnectionAgeMs === 0)
    warnings.push('--http2-max-connection-age-grace has no effect without --http2-max-connection-age (off)')
  return warnings
}

/** Config as logged and shown on /status: secrets hidden. */
export function redactedConfig(c: Config): Record<string, unknown> {
  return { ...c, adminToken: c.adminToken ? '(set)' : undefined }
}

export { renderHelp, renderMarkdown } from './config/render.js'
export { podPorts, type PortSettings } from './config/ports.js'
