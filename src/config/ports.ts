// Several load-balancer-facing ports (--ports, repeatable): each its own listen address,
// upstream, mode and PROXY policy, all sharing one lifecycle. The single-port flags (--listen,
// --upstream, --mode, ...) define the first port, named by --port-name; every --ports adds one
// more, and a key it does not set takes the global flag's value.
//
//   --ports name=grpc,listen=0.0.0.0:9090,upstream=127.0.0.1:9091,mode=http,proxy-protocol=required
//   DRAINPIPE_PORTS='name=grpc,listen=0.0.0.0:9090,upstream=127.0.0.1:9091;name=tls,listen=:8443,...'
//
// Pairs are KEY=VALUE separated by ','; ports by ';'. A comma-separated item without '=' continues
// the value before it, so a list keeps its commas: trusted-proxies=10.0.0.0/8,fc00::/7,mode=tcp.
// Each value is parsed by its own option's parser (../config.ts), so it accepts exactly what the
// flag accepts. A key is a flag of the option table: adding a per-port setting is one line in
// PORT_KEYS (the key in PortSettings follows from the table).
//
// Two keys belong to one port and are not inherited: target-group-arn (the port's own target
// groups: an extra port has none unless it names them) and target-port (the port registered in
// them: an extra port's own listen port unless set).
import { OPTIONS, type Config, type OptionSpec } from '../config.js'
import { InvalidValue, parsePortName } from './values.js'

/** The options (by their Config key) a --ports may set for its own port; in --ports, by their flag name. */
export const PORT_KEYS = [
  'listen',
  'upstream',
  'mode',
  'proxyProtocol',
  'trustedProxies',
  'upstreamProxyProtocol',
  'upstreamProtocol',
  'forwardedProto',
  'xff',
  'targetGroupArns',
  'targetPort',
] as const
type PortKey = (typeof PORT_KEYS)[number]

/** Keys an extra port does not take from the global flags. */
const OWN_KEYS: readonly PortKey[] = ['targetGroupArns', 'targetPort']

/** The flags of PORT_KEYS, the keys a --ports takes besides name. */
export function portFlags(): string[] {
  return PORT_KEYS.map((k) => (OPTIONS as readonly OptionSpec[]).find((o) => o.key === k)!.flag)
}

/** One pod port's settings: its name (the metrics' port label) and the per-port options. */
export type PortSettings = { name: string } & Pick<Config, PortKey>

/**
 * A --ports as given: its name if set, and the Config keys it set, parsed by their options' parsers
 * (typed loosely here: PortSettings derives from Config, which derives from this parser's type).
 */
export interface PortOverride {
  name?: string
  set: Record<string, unknown>
}

function accepted(detail: string): string {
  return `${detail} (a port is KEY=VALUE pairs separated by ',', ports by ';', with listen= required; keys: name, ${portFlags().join(', ')})`
}

/** The parser of --ports: one or more ports separated by ';'. */
export function parsePorts(text: string): PortOverride[] {
  const ports = text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
  if (ports.length === 0) throw new InvalidValue(accepted('at least one port'))
  return ports.map(parsePort)
}

function parsePort(text: string): PortOverride {
  const pairs: Array<[string, string]> = []
  for (const item of text.split(',')) {
    const eq = item.indexOf('=')
    if (eq === -1) {
      const last = pairs.at(-1)
      if (last === undefined) throw new InvalidValue(accepted(`KEY=VALUE, not "${item.trim()}"`))
      last[1] += `,${item.trim()}`
    } else pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()])
  }
  const out: PortOverride = { set: {} }
  const seen = new Set<string>()
  const byFlag = new Map((OPTIONS as readonly OptionSpec[]).map((o) => [o.flag, o]))
  for (const [key, value] of pairs) {
    if (seen.has(key)) throw new InvalidValue(accepted(`each key once, not ${key}= twice`))
    seen.add(key)
    if (key === 'name') {
      try {
        out.name = parsePortName(value)
      } catch (err) {
        if (!(err instanceof InvalidValue)) throw err
        throw new InvalidValue(accepted(`name= ${err.accepted}`))
      }
      continue
    }
    if (!portFlags().includes(key)) throw new InvalidValue(accepted(`a known key, not "${key}"`))
    const spec = byFlag.get(key)!
    try {
      out.set[spec.key] = spec.parse(value)
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err
      throw new InvalidValue(accepted(`${key}= ${err.accepted}`))
    }
  }
  if (out.set.listen === undefined) throw new InvalidValue(accepted('listen=HOST:PORT in every port (each needs its own address)'))
  return out
}

/** Every pod port: the one the global flags define, then each --ports with the global values it did not set. */
export function podPorts(c: Config): PortSettings[] {
  const first: PortSettings = { name: c.portName, ...globalSettings(c) }
  return [
    first,
    ...c.ports.map((p): PortSettings => {
      const own = { ...globalSettings(c, OWN_KEYS), targetGroupArns: [], ...p.set } as Omit<PortSettings, 'name'>
      own.targetPort ??= own.listen.port
      return { ...own, name: p.name ?? String(own.listen.port) }
    }),
  ]
}

function globalSettings(c: Config, except: readonly PortKey[] = []): Omit<PortSettings, 'name'> {
  const out: Record<string, unknown> = {}
  for (const key of PORT_KEYS) if (!except.includes(key)) out[key] = c[key]
  return out as Omit<PortSettings, 'name'>
}

/** Checks between the ports: errors name --ports (or the global flag the clash is with). */
export function checkPorts(ports: readonly PortSettings[], flagOf: (i: number) => string): Array<{ message: string; flag: string }> {
  const errors: Array<{ message: string; flag: string }> = []
  const names = new Map<string, number>()
  const listens = new Map<number, number>()
  ports.forEach((p, i) => {
    const which = flagOf(i)
    const other = names.get(p.name)
    if (other !== undefined)
      errors.push({
        message: `invalid ${which}: port name "${p.name}" is also the name of ${other === 0 ? flagOf(0) : 'an earlier --ports'}; expected a name of its own (name=NAME)`,
        flag: i === 0 ? 'port-name' : 'ports',
      })
    names.set(p.name, i)
    const clash = p.listen.port === 0 ? undefined : listens.get(p.listen.port)
    if (clash !== undefined)
      errors.push({
        message: `invalid ${which}: listen port ${p.listen.port} is also the listen port of ${clash === 0 ? flagOf(0) : 'an earlier --ports'}; expected a port of its own (listen=HOST:PORT)`,
        flag: 'ports',
      })
    if (p.listen.port !== 0) listens.set(p.listen.port, i)
    if (p.upstreamProxyProtocol !== 'off' && p.mode !== 'tcp')
      errors.push({
        message:
          i === 0
            ? '--upstream-proxy-protocol works in --mode tcp only (http mode passes the client in X-Forwarded-For/Forwarded)'
            : `invalid ${which}: upstream-proxy-protocol ${p.upstreamProxyProtocol} works in mode tcp only; expected mode=tcp or upstream-proxy-protocol=off on this port`,
        flag: i === 0 ? 'upstream-proxy-protocol' : 'ports',
      })
    if (p.upstreamProtocol !== 'h1' && p.mode !== 'http')
      errors.push({
        message:
          i === 0
            ? '--upstream-protocol h2c works in --mode http only (tcp mode passes HTTP/2 through as bytes)'
            : `invalid ${which}: upstream-protocol ${p.upstreamProtocol} works in mode http only; expected mode=http or upstream-protocol=h1 on this port`,
        flag: i === 0 ? 'upstream-protocol' : 'ports',
      })
  })
  return errors
}
