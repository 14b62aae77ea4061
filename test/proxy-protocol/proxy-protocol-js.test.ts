// proxy-protocol-js 4.0.6 is the npm parser the design first named. drainpipe does not use it
// at runtime; it serves here as an independent implementation:
//   1. differential: for valid v1/v2 headers, its addresses and ports agree with ours, in both
//      directions (our encoder -> its parser, its builder -> our reader);
//   2. defects: each test below shows input it mishandles and what our reader does instead.
// If a future version fixes a defect, its test fails and the notes should be revisited.
import t from 'tap'
import fc from 'fast-check'
import ppjs from 'proxy-protocol-js'
import { encodeAwsVpceTlv, encodeV1, encodeV2, HeaderReader } from '../../src/proxy-protocol/index.js'
import type { ReadResult } from '../../src/proxy-protocol/index.js'
import { formatIPv6 } from '../../src/proxy-protocol/address.js'
import { hex } from './feed.js'

const { V1BinaryProxyProtocol, V2ProxyProtocol, IPv4ProxyAddress, IPv6ProxyAddress, IPv4Address, IPv6Address, Command, TransportProtocol } =
  ppjs

const read = (b: Buffer): ReadResult => new HeaderReader().push(b)
const reason = (r: ReadResult): string => (r.kind === 'error' ? r.error.reason : r.kind)
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 })
const port = fc.nat(65535)
const PAYLOAD = Buffer.from('GET / HTTP/1.1\r\n\r\n')
const SIG = '0d0a0d0a000d0a515549540a'
const NLB = hex(`${SIG} 21 11 0054 cb007107 0a000117 c822 1f90 030004 6436cab2 04003e${'00'.repeat(62)}`)

function theirs(b: Buffer) {
  const p = V2ProxyProtocol.parse(new Uint8Array(b))
  const a = p.proxyAddress as InstanceType<typeof IPv4ProxyAddress> | InstanceType<typeof IPv6ProxyAddress>
  const text = (x: readonly number[]) => (x.length === 4 ? x.join('.') : formatIPv6(Uint8Array.from(x), 0))
  return {
    source: { address: text(a.sourceAddress.address), port: a.sourcePort },
    destination: { address: text(a.destinationAddress.address), port: a.destinationPort },
    data: p.data as Uint8Array,
  }
}

t.test('differential: our encoder, their parser (v2 TCP4/TCP6 with NLB TLVs, v1)', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        ipv4.map((q) => q.join('.')),
        ipv6.map((b) => formatIPv6(b, 0)),
      ),
      fc.oneof(
        ipv4.map((q) => q.join('.')),
        ipv6.map((b) => formatIPv6(b, 0)),
      ),
      port,
      port,
      fc.boolean(),
      (s, d, sp, dp, vpce) => {
        const fam = s.includes(':') ? 'TCP6' : 'TCP4'
        const dst = (d.includes(':') ? 'TCP6' : 'TCP4') === fam ? d : fam === 'TCP4' ? '10.0.0.1' : '::1'
        const source = { address: s, port: sp }
        const destination = { address: dst, port: dp }
        const b = encodeV2({
          command: 'PROXY',
          source,
          destination,
          crc32c: true,
          padTo: fam === 'TCP4' ? 100 : 124,
          tlvs: vpce ? [encodeAwsVpceTlv('vpce-0123456789abcdef0')] : [],
        })
        const ours = read(b)
        const other = theirs(b)
        return (
          ours.kind === 'header' &&
          JSON.stringify(ours.header.source) === JSON.stringify(other.source) &&
          JSON.stringify(ours.header.destination) === JSON.stringify(other.destination)
        )
      },
    ),
    { numRuns: 500, seed: 42 },
  )
  fc.assert(
    fc.property(ipv4, ipv4, port, port, (s, d, sp, dp) => {
      const b = encodeV1({ family: 'TCP4', source: { address: s.join('.'), port: sp }, destination: { address: d.join('.'), port: dp } })
      const p = V1BinaryProxyProtocol.parse(new Uint8Array(b))
      const ours = read(b)
      return (
        ours.kind === 'header' &&
        ours.header.source?.address === p.source.ipAddress &&
        ours.header.source.port === p.source.port &&
        ours.header.destination?.address === p.destination.ipAddress &&
        ours.header.destination.port === p.destination.port
      )
    }),
    { numRuns: 500, seed: 43 },
  )
  t.pass('1000 generated headers agree on addresses and ports')
})

t.test('differential: their builder, our reader', async (t) => {
  fc.assert(
    fc.property(ipv4, ipv4, port, port, (s, d, sp, dp) => {
      const b = Buffer.from(
        new V2ProxyProtocol(
          Command.PROXY,
          TransportProtocol.STREAM,
          new IPv4ProxyAddress(IPv4Address.createFrom(s), sp, IPv4Address.createFrom(d), dp),
        ).build(),
      )
      const r = read(b)
      return (
        r.kind === 'header' && r.header.source?.address === s.join('.') && r.header.source.port === sp && r.header.destination?.port === dp
      )
    }),
    { numRuns: 300, seed: 44 },
  )
  fc.assert(
    fc.property(ipv6, ipv6, port, port, (s, d, sp, dp) => {
      const b = Buffer.from(
        new V2ProxyProtocol(
          Command.PROXY,
          TransportProtocol.STREAM,
          new IPv6ProxyAddress(IPv6Address.createFrom([...s]), sp, IPv6Address.createFrom([...d]), dp),
        ).build(),
      )
      const r = read(b)
      return (
        r.kind === 'header' &&
        r.header.source?.address === formatIPv6(s, 0) &&
        r.header.destination?.address === formatIPv6(d, 0) &&
        r.header.source.port === sp
      )
    }),
    { numRuns: 300, seed: 45 },
  )
  t.pass('600 headers built by proxy-protocol-js read back by ours')
})

t.test('defect: v2 length field ignored, so the header end is unknown', async (t) => {
  const p = theirs(Buffer.concat([NLB, PAYLOAD]))
  t.equal(p.data.length, 100 - 28 + PAYLOAD.length, 'its data = TLVs + payload, mixed together')
  const ours = read(Buffer.concat([NLB, PAYLOAD]))
  t.same(ours.kind === 'header' && ours.rest, PAYLOAD, 'ours: rest is exactly the payload')
})

t.test('defect: no TLV parsing, no CRC32C check', async (t) => {
  const badCrc = Buffer.from(NLB)
  badCrc[31] = badCrc[31]! ^ 1
  t.doesNotThrow(() => theirs(badCrc), 'it accepts a header whose CRC32C does not match')
  t.equal(reason(read(badCrc)), 'bad_crc')
  const spoofed = Buffer.from(NLB)
  spoofed[19] = 8 // client address altered in flight; only the CRC tells
  t.equal(theirs(spoofed).source.address, '203.0.113.8', 'it reports the altered address')
  t.equal(reason(read(spoofed)), 'bad_crc', 'ours refuses it')
  const vpce = encodeV2({
    command: 'PROXY',
    source: { address: '1.2.3.4', port: 1 },
    destination: { address: '5.6.7.8', port: 2 },
    tlvs: [encodeAwsVpceTlv('vpce-0123456789abcdef0')],
  })
  t.notOk('awsVpceId' in V2ProxyProtocol.parse(new Uint8Array(vpce)), 'no VPC endpoint id: the TLVs are raw bytes in data')
  const r = read(vpce)
  t.equal(r.kind === 'header' && r.header.awsVpceId, 'vpce-0123456789abcdef0')
})

t.test('defect: no bounds checks on truncated input', async (t) => {
  const cut = NLB.subarray(0, 20) // signature, fixed part, 4 of 12 address bytes
  const p = theirs(cut)
  t.ok(Number.isNaN(p.source.port), 'it "parses" a 20-byte NLB header and reports port NaN')
  const r = new HeaderReader()
  t.equal(r.push(cut).kind, 'more', 'ours waits for the rest')
  t.equal(reason(r.end()), 'truncated', 'and calls it truncated when the stream ends')
})

t.test('defect: no streaming, a split header is indistinguishable from garbage', async (t) => {
  t.throws(() => V2ProxyProtocol.parse(new Uint8Array(NLB.subarray(0, 10))), 'first 10 bytes: "no v2 signature"')
  t.throws(() => V1BinaryProxyProtocol.parse(new Uint8Array(Buffer.from('PROXY TCP4 1.2.3.4'))), 'v1 without its CRLF yet: throws')
  t.equal(read(NLB.subarray(0, 10)).kind, 'more', 'ours: more')
})

t.test('defect: lax v1 (addresses, ports, families, length)', async (t) => {
  const lax = [
    'PROXY TCP4 999.999.999.999 1.2.3.4 1 2\r\n',
    'PROXY TCP4 localhost 1.2.3.4 1 2\r\n',
    'PROXY TCP4 ::1 ::1 1 2\r\n',
    'PROXY TCP4 192.168.001.1 1.2.3.4 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 0080 2\r\n',
    `PROXY TCP6 ${'a'.repeat(200)} ::1 1 2\r\n`,
  ]
  for (const line of lax) {
    const b = Buffer.from(line, 'latin1')
    t.doesNotThrow(() => V1BinaryProxyProtocol.parse(new Uint8Array(b)), `it accepts ${JSON.stringify(line.slice(0, 48))}`)
    const r = read(b)
    t.equal(r.kind, 'error', `ours rejects it (${reason(r)})`)
  }
})

t.test('defect: DGRAM accepted, stacked headers undetected', async (t) => {
  const dgram = hex(`${SIG} 21 12 000c 0a000001 0a000002 0001 0002`)
  t.equal(V2ProxyProtocol.parse(new Uint8Array(dgram)).transportProtocol, TransportProtocol.DGRAM, 'it takes a UDP header on a TCP stream')
  t.equal(reason(read(dgram)), 'bad_transport')
  const stacked = Buffer.concat([NLB, NLB])
  t.doesNotThrow(() => theirs(stacked), 'a client-sent second header hides in its data')
  t.equal(reason(read(stacked)), 'stacked_header')
})

t.test('defect: its builder writes a length that leaves out TLV data', async (t) => {
  const built = Buffer.from(
    new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom([1, 2, 3, 4]), 1, IPv4Address.createFrom([5, 6, 7, 8]), 2),
      new Uint8Array([4, 0, 1, 0]),
    ).build(),
  )
  t.equal(built.readUInt16BE(14), 12, 'len 12 although a 4-byte NOOP TLV follows')
  const r = read(built)
  t.same(r.kind === 'header' && r.rest, Buffer.from([4, 0, 1, 0]), 'so a conforming reader sees the TLV as payload')
})
