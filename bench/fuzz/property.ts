// The property every fuzz case must satisfy, shared by the fuzz script and its tap run.
//   - push()/end() never throw; every input ends in exactly one final result;
//   - the reader never holds more than max(maxHeaderBytes, 107) bytes;
//   - the result does not depend on how the bytes were chunked (whole, random cuts, bytewise);
//   - no byte is lost or duplicated: header.byteLength + payload = input, 'none' gives back
//     the input, an error carries a reason from PROXY_ERROR_REASONS;
//   - an unmutated valid header parses to exactly the encoded fields (or is refused for the
//     configured reason: too_long under a small cap, stacked_header);
//   - any header the reader accepts re-encodes to one that reads back to the same fields.
import { encodeV1, encodeV2, PROXY_ERROR_REASONS } from '../../dist/proxy-protocol/index.js'
import type { ProxyHeader } from '../../dist/proxy-protocol/index.js'
import type { FuzzCase } from './arbitraries.js'
import { bytewise, feedWith, splitAt } from './feed.js'
import type { Outcome, ReaderImpl } from './feed.js'

const REASONS: ReadonlySet<string> = new Set(PROXY_ERROR_REASONS)
const V2_SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex')
const V1_SIG = Buffer.from('PROXY ', 'latin1')

export class PropertyViolation extends Error {}

/** The header's fields in a fixed key order, Buffers as hex, optional fields only when set. */
export function fields(h: ProxyHeader, opts: { byteLength?: boolean; crc?: boolean } = {}): string {
  const o: Record<string, unknown> = {
    version: h.version,
    command: h.command,
    family: h.family,
    source: h.source,
    destination: h.destination,
    tlvs: h.tlvs.filter((t) => opts.crc !== false || t.type !== 0x03).map((t) => [t.type, t.value.toString('hex')]),
  }
  if (h.alpn !== undefined) o.alpn = h.alpn
  if (h.authority !== undefined) o.authority = h.authority
  if (h.uniqueId !== undefined) o.uniqueId = h.uniqueId.toString('hex')
  if (h.ssl !== undefined) o.ssl = [h.ssl.client, h.ssl.verify, h.ssl.version, h.ssl.cn, h.ssl.cipher, h.ssl.sigAlg, h.ssl.keyAlg]
  if (h.netns !== undefined) o.netns = h.netns
  if (h.awsVpceId !== undefined) o.awsVpceId = h.awsVpceId
  if (opts.crc !== false && h.crc32c !== undefined) o.crc32c = h.crc32c
  if (opts.byteLength !== false) o.byteLength = h.byteLength
  return JSON.stringify(o)
}

function same(a: Outcome, b: Outcome): boolean {
  return (
    a.kind === b.kind &&
    a.reason === b.reason &&
    a.payload.equals(b.payload) &&
    (a.header === undefined ? b.header === undefined : b.header !== undefined && fields(a.header) === fields(b.header))
  )
}

function describe(o: Outcome): string {
  return `${o.kind}${o.reason ? ` ${o.reason}` : ''}${o.header ? ` ${fields(o.header)}` : ''} payload ${o.payload.length}B`
}

function startsWithSignature(p: Buffer): boolean {
  return (p.length >= 6 && p.subarray(0, 6).equals(V1_SIG)) || (p.length >= 12 && p.subarray(0, 12).equals(V2_SIG))
}

/** Checks one case; throws PropertyViolation. Returns the outcome for tallying. */
export function checkCase(impl: ReaderImpl, c: FuzzCase): Outcome {
  const cap = Math.max(c.opts.maxHeaderBytes, 107)
  const whole = feedWith(impl, [c.bytes], c.opts)
  const runs: Array<[string, Outcome]> = [
    ['whole', whole],
    [`cuts ${c.cuts.join(',')}`, feedWith(impl, splitAt(c.bytes, c.cuts), c.opts)],
  ]
  if (c.bytewise) runs.push(['bytewise', feedWith(impl, bytewise(c.bytes), c.opts)])
  for (const [name, o] of runs) {
    if (o.maxBuffered > cap) throw new PropertyViolation(`${name}: buffered ${o.maxBuffered} bytes, cap ${cap}`)
    if (!same(o, whole)) throw new PropertyViolation(`${name} gave ${describe(o)} but whole gave ${describe(whole)}`)
  }
  if (whole.kind === 'none' && !whole.payload.equals(c.bytes)) throw new PropertyViolation('none: payload is not the input')
  if (whole.kind === 'error' && !REASONS.has(whole.reason ?? '')) throw new PropertyViolation(`unknown reason ${whole.reason}`)
  if (whole.kind === 'header') {
    const h = whole.header!
    if (!c.bytes.subarray(h.byteLength).equals(whole.payload))
      throw new PropertyViolation(`header of ${h.byteLength}B + payload ${whole.payload.length}B != input ${c.bytes.length}B`)
    const again = reencode(h)
    const back = feedWith(impl, [again], { maxHeaderBytes: 65551 })
    if (
      back.kind !== 'header' ||
      fields(back.header!, { byteLength: false, crc: false }) !== fields(h, { byteLength: false, crc: false })
    ) {
      throw new PropertyViolation(`re-encoded header reads back as ${describe(back)}, not ${fields(h)}`)
    }
  }
  if (c.category === 'valid') {
    const e = c.expected!
    const payload = c.bytes.subarray(c.headerLength!)
    let want: string
    if (e.version === 2 && c.headerLength! > c.opts.maxHeaderBytes) want = 'error too_long'
    else if (c.opts.stackedHeaders === 'reject' && startsWithSignature(payload)) want = 'error stacked_header'
    else want = `header ${fields(e)} payload ${payload.length}B`
    const got =
      whole.kind === 'header' ? `header ${fields(whole.header!)} payload ${whole.payload.length}B` : `${whole.kind} ${whole.reason ?? ''}`
    if (got !== want) throw new PropertyViolation(`valid header: got ${got}, want ${want}`)
  }
  return whole
}

function reencode(h: ProxyHeader): Buffer {
  if (h.version === 1) {
    return encodeV1({
      family: h.family as 'TCP4' | 'TCP6' | 'UNSPEC',
      source: h.source ?? undefined,
      destination: h.destination ?? undefined,
    })
  }
  return encodeV2({
    command: h.command,
    family: h.family,
    source: h.source ?? undefined,
    destination: h.destination ?? undefined,
    tlvs: h.tlvs.filter((t) => t.type !== 0x03),
  })
}
