// The value parsers of the option table (../config.ts): each takes the text of a flag or
// environment value and returns the typed value, in milliseconds for durations, or throws
// InvalidValue saying what it accepts (parseConfig turns that into a ConfigError naming the flag).
import { isIP } from 'node:net'
import { parseCidrList } from '../proxy-protocol/policy.js'
import { OBSERVER_NAMES, type ObserverName } from '../lifecycle/observers/observer.js'

export interface HostPort {
  host: string
  port: number
}

export class InvalidValue extends Error {
  constructor(readonly accepted: string) {
    super(accepted)
  }
}

const SECONDS_ACCEPTED = 'seconds as a non-negative number, optionally with a unit: 0.5, 30, 250ms, 2m'

export function parseSeconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m)?$/.exec(text.trim())
  if (!m) throw new InvalidValue(SECONDS_ACCEPTED)
  const n = Number(m[1])
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000
  if (!Number.isFinite(ms)) throw new InvalidValue(SECONDS_ACCEPTED)
  return Math.round(ms)
}

export function parsePositiveSeconds(text: string): number {
  const ms = parseSeconds(text)
  if (ms <= 0) throw new InvalidValue(`more than 0 ${SECONDS_ACCEPTED.replace('non-negative ', '')}`)
  return ms
}

export function parseHostPort(text: string): HostPort {
  const accepted = 'HOST:PORT, [IPv6]:PORT or PORT, with PORT 0-65535'
  let host = '0.0.0.0'
  let portText = text
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  if (bracket) {
    host = bracket[1]!
    portText = bracket[2]!
    if (isIP(host) !== 6) throw new InvalidValue(accepted)
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':')
    host = text.slice(0, i) || '0.0.0.0'
    portText = text.slice(i + 1)
    if (host.includes(':')) throw new InvalidValue(accepted)
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new InvalidValue(accepted)
  }
  if (!/^\d{1,5}$/.test(portText)) throw new InvalidValue(accepted)
  const port = Number(portText)
  if (port > 65535) throw new InvalidValue(accepted)
  return { host, port }
}

export function parseInteger(min: number, max: number) {
  return (text: string): number => {
    const accepted = `a whole number from ${min} to ${max}`
    if (!/^\d+$/.test(text)) throw new InvalidValue(accepted)
    const n = Number(text)
    if (n < min || n > max) throw new InvalidValue(accepted)
    return n
  }
}

export function parseEnum<T extends string>(values: readonly T[]) {
  return (text: string): T => {
    if ((values as readonly string[]).includes(text)) return text as T
    throw new InvalidValue(`one of ${values.join(', ')}`)
  }
}

export function parseNumber(min: number, max: number) {
  return (text: string): number => {
    // Decimal only: Number() would also take 0x10, 0b11, 1e1 and surrounding blanks.
    const n = /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidValue(`a decimal number from ${min} to ${max}`)
    return n
  }
}

export function parseObservers(text: string): ObserverName[] {
  const accepted = `a comma-separated list of ${OBSERVER_NAMES.join(', ')}`
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (names.length === 0) throw new InvalidValue(accepted)
  for (const n of names) if (!(OBSERVER_NAMES as readonly string[]).includes(n)) throw new InvalidValue(accepted)
  return [...new Set(names as ObserverName[])]
}

export function parseQuietPeriod(text: string): number | 'auto' {
  if (text === 'auto') return 'auto'
  try {
    return parseSeconds(text)
  } catch {
    throw new InvalidValue(`auto, or ${SECONDS_ACCEPTED}`)
  }
}

export function parseCidrs(text: string): string[] {
  try {
    return parseCidrList(text)
  } catch (err) {
    throw new InvalidValue(`a comma-separated list of IPv4/IPv6 CIDRs such as 10.0.0.0/8,fc00::/7 (${(err as Error).message})`)
  }
}

export function parseUrl(text: string): string {
  const accepted = 'an http:// or https:// URL'
  try {
    const u = new URL(text)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidValue(accepted)
    return text
  } catch {
    throw new InvalidValue(accepted)
  }
}

export function parseArns(text: string): string[] {
  const accepted = 'target group ARNs (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID), comma-separated or repeated'
  const arns = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const a of arns)
    if (!/^arn:aws[\w-]*:elasticloadbalancing:[\w-]*:\d*:targetgroup\/[\w-]+\/\w+$/.test(a)) throw new InvalidValue(accepted)
  return arns
}

export function parseText(text: string): string {
  if (text.length === 0) throw new InvalidValue('a non-empty string')
  return text
}

export function parseOnOff(text: string): boolean {
  if (text === 'on') return true
  if (text === 'off') return false
  throw new InvalidValue('one of on, off')
}

/** A pod port's name (--port-name, --ports name=): its metrics label and /status section. */
export function parsePortName(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(text))
    throw new InvalidValue('letters, digits, _ . - (up to 63, starting with a letter or digit)')
  return text
}
