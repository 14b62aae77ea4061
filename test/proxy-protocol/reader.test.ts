// The streaming reader against hand-built wire bytes (not the encoder): every RFC edge, every
// split point, payload preservation. Valid headers are fed whole, cut at every offset and one
// byte at a time; all three must give the same header and hand on the same payload.
import t from 'tap'
import { HeaderReader, PROXY_ERROR_REASONS, StackedHeaderGuard } from '../../src/proxy-protocol/index.js'
import type { ProxyHeader, ReaderOptions } from '../../src/proxy-protocol/index.js'
import { allSplits, bytewise, feed, hex, plain } from './feed.js'

const SIG = '0d0a0d0a000d0a515549540a'
const NOOP62 = `04003e${'00'.repeat(62)}`

// The NLB's client header: v2 PROXY, TCP/IPv4, len 84; 203.0.113.7:51234 -> 10.0.1.23:8080;
// CRC32C TLV, then one NOOP TLV padding to 100 bytes.
const NLB = hex(`${SIG} 21 11 0054  cb007107 0a000117 c822 1f90  030004 6436cab2  ${NOOP62}`)
// The same with a PrivateLink VPC endpoint TLV (0xEA, subtype 0x01) between CRC and NOOP.
const NLB_VPCE = hex(`${SIG} 21 11 0054  cb007107 0a000117 c822 1f90  030004 8e45f81e
  ea0017 01 767063652d3031323334353637383961626364656630  040024 ${'00'.repeat(36)}`)
// The NLB's health-check header: LOCAL, family byte still 0x11, len 84, zero addresses, CRC + NOOP.
const NLB_LOCAL = hex(`${SIG} 20 11 0054  ${'00'.repeat(12)}  030004 3b5bb4f7  ${NOOP62}`)
// aws/elastic-load-balancing-tools' NLB example and a capture, as quoted in go-proxyproto's tlvparse/aws_test.go.
const AWS_EXAMPLE = hex(
  '0d0a0d0a000d0a515549540a21110054ac1f0771ac1f0a1fc8f20050030004e8d6892dea001701767063652d3038643262663135666163353030316339040024' +
    '00'.repeat(36),
)
const AWS_CAPTURE = hex(
  '0d0a0d0a000d0a515549540a21110054c0a82c0ac0a82c07cc3e241b030004b9286fa6ea001701767063652d3030656166633435386563393762383333040024' +
    '00'.repeat(36),
)
// IPv6: 2001:db8::1:443 <- 2001:db8:0:0:1::2:55000 style addresses, no TLVs.
const V6 = hex(`${SIG} 21 21 0024  20010db8000000000000000000000001  20010db8000000000001000000000002  d6d8 01bb`)
// IPv4-mapped IPv6 source.
const V6_MAPPED = hex(`${SIG} 21 21 0024  00000000000000000000ffffc0000201  00000000000000000000000000000001  0050 0051`)

const v1 = (s: string) => Buffer.from(s, 'latin1')

interface Valid {
  name: string
  bytes: Buffer
  header: Partial<ProxyHeader> & Record<string, unknown>
  opts?: ReaderOptions
}

const VALID: Valid[] = [
  {
    name: 'NLB client header (100 bytes, CRC32C + NOOP)',
    bytes: NLB,
    header: {
      version: 2,
      command: 'PROXY',
      family: 'TCP4',
      byteLength: 100,
      crc32c: 'valid',
      source: { address: '203.0.113.7', port: 51234 },
      destination: { address: '10.0.1.23', port: 8080 },
    },
  },
  {
    name: 'NLB client header with a VPC endpoint TLV',
    bytes: NLB_VPCE,
    header: {
      version: 2,
      command: 'PROXY',
      family: 'TCP4',
      byteLength: 100,
      crc32c: 'valid',
      awsVpceId: 'vpce-0123456789abcdef0',
      source: { address: '203.0.113.7', port: 51234 },
      destination: { address: '10.0.1.23', port: 8080 },
    },
  },
  {
    name: 'NLB LOCAL health-check header: len skipped, nothing interpreted',
    bytes: NLB_LOCAL,
    header: { version: 2, command: 'LOCAL', family: 'TCP4', source: null, destination: null, byteLength: 100 },
  },
  {
    name: 'AWS example header (elastic-load-balancing-tools)',
    bytes: AWS_EXAMPLE,
    header: {
      source: { address: '172.31.7.113', port: 51442 },
      destination: { address: '172.31.10.31', port: 80 },
      awsVpceId: 'vpce-08d2bf15fac5001c9',
      crc32c: 'valid',
    },
  },
  {
    name: 'AWS NLB capture with a VPC endpoint',
    bytes: AWS_CAPTURE,
    header: {
      source: { address: '192.168.44.10', port: 52286 },
      destination: { address: '192.168.44.7', port: 9243 },
      awsVpceId: 'vpce-00eafc458ec97b833',
      crc32c: 'valid',
    },
  },
  {
    name: 'v2 TCP6',
    bytes: V6,
    header: {
      version: 2,
      command: 'PROXY',
      family: 'TCP6',
      byteLength: 52,
      tlvs: [],
      source: { address: '2001:db8::1', port: 55000 },
      destination: { address: '2001:db8::1:0:0:2', port: 443 },
    },
  },
  {
    name: 'v2 TCP6 with an IPv4-mapped source',
    bytes: V6_MAPPED,
    header: { family: 'TCP6', source: { address: '::ffff:192.0.2.1', port: 80 }, destination: { address: '::1', port: 81 } },
  },
  {
    name: 'v2 PROXY with UNSPEC family: accepted, no addresses, block ignored',
    bytes: hex(`${SIG} 21 00 0004 deadbeef`),
    header: { version: 2, command: 'PROXY', family: 'UNSPEC', source: null, destination: null, tlvs: [], byteLength: 20 },
  },
  {
    name: 'v2 PROXY with UNSPEC transport on TCP4',
    bytes: hex(`${SIG} 21 10 000c 7f000001 7f000002 0001 0002`),
    header: { family: 'TCP4', source: { address: '127.0.0.1', port: 1 }, destination: { address: '127.0.0.2', port: 2 } },
  },
  {
    name: 'v2 UNIX: addresses not reported, TLVs after the 216-byte block',
    bytes: hex(`${SIG} 21 31 00dd ${'2f746d702f61'.padEnd(216, '0')}${'00'.repeat(108)} 010002 6832`),
    header: { family: 'UNIX', source: null, destination: null, alpn: 'h2', byteLength: 237 },
  },
  {
    name: 'v2 LOCAL with UNSPEC family and len 0',
    bytes: hex(`${SIG} 20 00 0000`),
    header: { command: 'LOCAL', family: 'UNSPEC', byteLength: 16 },
  },
  {
    name: 'v2 LOCAL ignores a DGRAM family byte and garbage TLVs',
    bytes: hex(`${SIG} 20 12 0005 ff ffff 0000`),
    header: { command: 'LOCAL', family: 'TCP4', source: null, tlvs: [], byteLength: 21 },
  },
  {
    name: 'v2 TLVs: ALPN, AUTHORITY, UNIQUE_ID, NETNS, SSL with sub-TLVs, unknown kept, no CRC',
    bytes: hex(`${SIG} 21 11 0068  0a000001 0a000002 3039 0050
      010008 687474702f312e31
      02000b 6578616d706c652e636f6d
      050004 01020304
      300003 6e7331
      20002e 05 00000000  210007 544c5376312e33  22000361 6263  230016 544c535f4145535f3132385f47434d5f534841323536
      e10002 beef`),
    header: {
      family: 'TCP4',
      alpn: 'http/1.1',
      authority: 'example.com',
      netns: 'ns1',
      ssl: { client: 5, verify: 0, version: 'TLSv1.3', cn: 'abc', cipher: 'TLS_AES_128_GCM_SHA256' },
      source: { address: '10.0.0.1', port: 12345 },
      destination: { address: '10.0.0.2', port: 80 },
    },
  },
  {
    name: 'v2 AWS TLV with another subtype: kept in tlvs, no vpce id',
    bytes: hex(`${SIG} 21 11 0013  0a000001 0a000002 0001 0002  ea0004 02616263`),
    header: { family: 'TCP4', tlvs: [{ type: 0xea, value: hex('02616263') }] },
  },
  {
    name: 'v2 header at exactly maxHeaderBytes (232)',
    bytes: hex(`${SIG} 21 11 00d8  0a000001 0a000002 0001 0002  0400c9 ${'00'.repeat(201)}`),
    header: { family: 'TCP4', byteLength: 232 },
    opts: { maxHeaderBytes: 232 },
  },
  {
    name: 'v2 CRC mismatch accepted when crcMismatch is accept',
    bytes: hex(`${SIG} 21 11 0054  cb007107 0a000117 c822 1f90  030004 6436cab3  ${NOOP62}`),
    header: { crc32c: 'mismatch', source: { address: '203.0.113.7', port: 51234 } },
    opts: { crcMismatch: 'accept' },
  },
  {
    name: 'v1 TCP4',
    bytes: v1('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n'),
    header: {
      version: 1,
      command: 'PROXY',
      family: 'TCP4',
      tlvs: [],
      byteLength: 45,
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.2', port: 443 },
    },
  },
  {
    name: 'v1 TCP6, uncompressed text reported canonical',
    bytes: v1('PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::1 0 65535\r\n'),
    header: { version: 1, family: 'TCP6', source: { address: '2001:db8::1', port: 0 }, destination: { address: '::1', port: 65535 } },
  },
  {
    name: 'v1 TCP6 with an embedded IPv4',
    bytes: v1('PROXY TCP6 ::ffff:192.0.2.1 ::ffff:0a00:0001 1 2\r\n'),
    header: { family: 'TCP6', source: { address: '::ffff:192.0.2.1', port: 1 }, destination: { address: '::ffff:10.0.0.1', port: 2 } },
  },
  {
    name: 'v1 UNKNOWN',
    bytes: v1('PROXY UNKNOWN\r\n'),
    header: { version: 1, command: 'PROXY', family: 'UNSPEC', source: null, destination: null, byteLength: 15 },
  },
  {
    name: 'v1 UNKNOWN with the rest of the line ignored',
    bytes: v1('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'),
    header: { family: 'UNSPEC', source: null },
  },
  {
    name: 'v1 at the 107-byte maximum',
    bytes: v1('PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'),
    header: { family: 'TCP6', byteLength: 104, source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 } },
  },
  {
    name: 'v1 UNKNOWN line of exactly 107 bytes',
    bytes: v1(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`),
    header: { family: 'UNSPEC', byteLength: 107 },
  },
]

const PAYLOAD = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')

t.test('valid headers: whole, every split point, one byte at a time; payload byte for byte', async (t) => {
  for (const v of VALID) {
    t.test(v.name, async (t) => {
      const whole = feed([v.bytes], v.opts)
      t.equal(whole.kind, 'header', 'parsed')
      t.match(plain(whole.header), expected(v.header), 'fields')
      t.equal(whole.header?.byteLength, v.bytes.length, 'byteLength is the wire size')
      const withPayload = Buffer.concat([v.bytes, PAYLOAD])
      let checked = 0
      for (const chunks of [...allSplits(v.bytes), ...allSplits(withPayload)]) {
        const o = feed(chunks, v.opts)
        const expectPayload = chunks.length && Buffer.concat(chunks).length > v.bytes.length ? PAYLOAD : Buffer.alloc(0)
        if (
          o.kind !== 'header' ||
          !o.payload.equals(expectPayload) ||
          JSON.stringify(plain(o.header)) !== JSON.stringify(plain(whole.header))
        ) {
          t.fail(`split ${chunks.map((c) => c.length).join('+')}: ${o.kind} ${o.reason ?? ''} payload ${o.payload.toString('hex')}`)
          return
        }
        if (o.maxBuffered > Math.max(v.opts?.maxHeaderBytes ?? 4096, 107)) t.fail(`buffered ${o.maxBuffered}`)
        checked++
      }
      t.pass(`${checked} chunkings agree`)
    })
  }
})

function expected(h: Valid['header']): unknown {
  const tlvs = h.tlvs?.map((x) => ({ type: x.type, value: x.value.toString('hex') }))
  return tlvs ? { ...h, tlvs } : h
}

t.test('v2 header with its TLVs exposed in wire order', async (t) => {
  const o = feed([NLB_VPCE])
  t.same(
    o.header?.tlvs.map((x) => [x.type, x.value.length]),
    [
      [0x03, 4],
      [0xea, 23],
      [0x04, 36],
    ],
  )
  const local = feed([NLB_LOCAL])
  t.same(local.header?.tlvs, [], 'LOCAL: TLVs not interpreted')
  t.equal(local.header?.crc32c, undefined, 'LOCAL: CRC not checked')
})

t.test('fast path: a whole header in one chunk is parsed in place', async (t) => {
  const chunk = Buffer.concat([NLB_VPCE, PAYLOAD])
  const r = new HeaderReader().push(chunk)
  if (r.kind !== 'header') throw new Error(r.kind)
  t.equal(r.rest.buffer, chunk.buffer, 'rest shares the chunk memory')
  t.equal(r.rest.byteOffset, chunk.byteOffset + 100, 'rest starts right after the header')
  t.equal(r.header.tlvs[1]!.value.buffer, chunk.buffer, 'TLV values are views, not copies')
  t.equal(r.stackCheckPending, false)
  const none = new HeaderReader().push(PAYLOAD)
  t.equal(none.kind === 'none' && none.rest, PAYLOAD, 'none: rest is the chunk itself')
})

t.test('header alone: returned at once, stacked check left to a StackedHeaderGuard', async (t) => {
  const r = new HeaderReader().push(NLB_LOCAL)
  t.equal(r.kind, 'header')
  t.equal(r.kind === 'header' && r.stackCheckPending, true)
  t.equal(r.kind === 'header' && r.rest.length, 0)
  const passing = new HeaderReader({ stackedHeaders: 'pass' }).push(NLB)
  t.equal(passing.kind === 'header' && passing.stackCheckPending, false, 'pass: nothing to check')
})

t.test('non-PROXY streams are decided at the first diverging byte', async (t) => {
  const cases: Array<[string, Buffer, number]> = [
    ['GET at byte 0', Buffer.from('GET / HTTP/1.1\r\n'), 1],
    ['TLS ClientHello', hex('160301020001'), 1],
    ['"PROXZ" diverges at byte 4', Buffer.from('PROXZ'), 5],
    ['"PROXY" without the space', Buffer.from('PROXY\r\n'), 6],
    ['v2 signature diverging at byte 11', hex('0d0a0d0a000d0a5155495400'), 12],
    ["CRLF CRLF (an HTTP client's leading blank lines)", hex('0d0a0d0a0d0a'), 5],
  ]
  for (const [name, bytes, decidedAt] of cases) {
    const o = feed(bytewise(bytes))
    t.equal(o.kind, 'none', name)
    t.equal(o.mores, decidedAt - 1, `${name}: decided at byte ${decidedAt - 1}`)
    t.same(o.payload, bytes, `${name}: every byte comes back as payload`)
    for (const chunks of allSplits(bytes)) {
      const s = feed(chunks)
      if (s.kind !== 'none' || !s.payload.equals(bytes)) t.fail(`${name} split ${chunks.map((c) => c.length)}`)
    }
  }
  const empty = feed([Buffer.alloc(0)])
  t.equal(empty.kind, 'none', 'no bytes then end: none')
  t.equal(empty.payload.length, 0)
  t.equal(feed([Buffer.from('PRO')]).kind, 'none', 'a strict prefix of "PROXY " then end is payload')
  t.same(feed([Buffer.from('PRO')]).payload, Buffer.from('PRO'))
})

interface Invalid {
  name: string
  bytes: Buffer
  reason: string
  opts?: ReaderOptions
}

const v2 = (rest: string) => hex(`${SIG} ${rest}`)
const INVALID: Invalid[] = [
  { name: 'v2 version 1 in the version nibble', bytes: v2('11 11 000c 0a000001 0a000002 0001 0002'), reason: 'bad_version' },
  { name: 'v2 version 3', bytes: v2('31 11 000c 0a000001 0a000002 0001 0002'), reason: 'bad_version' },
  { name: 'v2 command 2', bytes: v2('22 11 000c 0a000001 0a000002 0001 0002'), reason: 'bad_command' },
  { name: 'v2 command 0xf', bytes: v2('2f 11 000c'), reason: 'bad_command' },
  { name: 'v2 family 4', bytes: v2('21 41 000c 0a000001 0a000002 0001 0002'), reason: 'bad_family' },
  { name: 'v2 DGRAM (UDP) over IPv4', bytes: v2('21 12 000c 0a000001 0a000002 0001 0002'), reason: 'bad_transport' },
  { name: 'v2 transport 3', bytes: v2('21 13 000c 0a000001 0a000002 0001 0002'), reason: 'bad_transport' },
  { name: 'v2 TCP4 len 11 < 12-byte address block', bytes: v2('21 11 000b 0a000001 0a000002 0001 00'), reason: 'bad_length' },
  { name: 'v2 TCP6 len 12 < 36', bytes: v2('21 21 000c 0a000001 0a000002 0001 0002'), reason: 'bad_length' },
  { name: 'v2 UNIX len 36 < 216', bytes: v2(`21 31 0024${'00'.repeat(36)}`), reason: 'bad_length' },
  { name: 'v2 len 0xffff above the 4096 default cap (decided at byte 16)', bytes: v2('21 11 ffff'), reason: 'too_long' },
  {
    name: 'v2 233 bytes with maxHeaderBytes 232',
    bytes: v2(`21 11 00d9${'00'.repeat(12)}0400ca${'00'.repeat(202)}`),
    reason: 'too_long',
    opts: { maxHeaderBytes: 232 },
  },
  { name: 'v2 LOCAL too long too', bytes: v2('20 11 1000'), reason: 'too_long' },
  { name: 'v2 TLV header cut by len', bytes: v2('21 11 000e 0a000001 0a000002 0001 0002 0300'), reason: 'bad_tlv' },
  { name: 'v2 TLV value past len', bytes: v2('21 11 0011 0a000001 0a000002 0001 0002 040005 0000'), reason: 'bad_tlv' },
  {
    name: 'v2 NLB header with its NOOP one byte too long',
    bytes: v2(`21 11 0054 cb007107 0a000117 c822 1f90 030004 6436cab2 04003f${'00'.repeat(62)}`),
    reason: 'bad_tlv',
  },
  { name: 'v2 CRC32C TLV of 3 bytes', bytes: v2('21 11 0012 0a000001 0a000002 0001 0002 030003 000000'), reason: 'bad_tlv' },
  { name: 'v2 two CRC32C TLVs', bytes: v2('21 11 001a 0a000001 0a000002 0001 0002 030004 00000000 030004 00000000'), reason: 'bad_tlv' },
  { name: 'v2 UNIQUE_ID of 129 bytes', bytes: v2(`21 11 0090 0a000001 0a000002 0001 0002 050081${'00'.repeat(129)}`), reason: 'bad_tlv' },
  { name: 'v2 SSL TLV shorter than client+verify', bytes: v2('21 11 0013 0a000001 0a000002 0001 0002 200004 01000000'), reason: 'bad_tlv' },
  {
    name: 'v2 SSL sub-TLV past the SSL TLV',
    bytes: v2('21 11 0018 0a000001 0a000002 0001 0002 200009 01 00000000 210005 41'),
    reason: 'bad_tlv',
  },
  { name: 'v2 empty AWS TLV', bytes: v2('21 11 000f 0a000001 0a000002 0001 0002 ea0000'), reason: 'bad_tlv' },
  {
    name: 'v2 AWS VPC endpoint id with a control byte',
    bytes: v2('21 11 0013 0a000001 0a000002 0001 0002 ea0004 01 76 00 65'),
    reason: 'bad_tlv',
  },
  {
    name: 'v2 NLB header with a wrong CRC',
    bytes: v2(`21 11 0054 cb007107 0a000117 c822 1f90 030004 6436cab3 ${NOOP62}`),
    reason: 'bad_crc',
  },
  {
    name: 'v2 NLB header with a changed source port (CRC no longer matches)',
    bytes: v2(`21 11 0054 cb007107 0a000117 c823 1f90 030004 6436cab2 ${NOOP62}`),
    reason: 'bad_crc',
  },
  { name: 'v1 lower-case proto', bytes: v1('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_family' },
  { name: 'v1 TCP5', bytes: v1('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_family' },
  { name: 'v1 UDP4', bytes: v1('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_family' },
  { name: 'v1 double space', bytes: v1('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_syntax' },
  { name: 'v1 trailing space', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), reason: 'bad_syntax' },
  { name: 'v1 missing port', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), reason: 'bad_syntax' },
  { name: 'v1 LF without CR', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), reason: 'bad_syntax' },
  { name: 'v1 CR CR LF', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n'), reason: 'bad_port' },
  { name: 'v1 tab separator', bytes: v1('PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_syntax' },
  { name: 'v1 IPv4 leading zero', bytes: v1('PROXY TCP4 192.168.001.1 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv4 octet 256', bytes: v1('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv4 three octets', bytes: v1('PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv4 five octets', bytes: v1('PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 hostname', bytes: v1('PROXY TCP4 localhost 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 TCP4 with IPv6 addresses', bytes: v1('PROXY TCP4 ::1 ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 TCP6 with IPv4 addresses', bytes: v1('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 TCP6 mixed families', bytes: v1('PROXY TCP6 ::1 5.6.7.8 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv6 with a zone', bytes: v1('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv6 in brackets', bytes: v1('PROXY TCP6 [::1] ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv6 two ::', bytes: v1('PROXY TCP6 1::2::3 ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv6 nine groups', bytes: v1('PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 IPv6 group of 5 digits', bytes: v1('PROXY TCP6 12345::1 ::1 1 2\r\n'), reason: 'bad_address' },
  { name: 'v1 port leading zero', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n'), reason: 'bad_port' },
  { name: 'v1 port 00', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n'), reason: 'bad_port' },
  { name: 'v1 port 65536', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n'), reason: 'bad_port' },
  { name: 'v1 port negative', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 -1 1\r\n'), reason: 'bad_port' },
  { name: 'v1 port hex', bytes: v1('PROXY TCP4 1.2.3.4 5.6.7.8 0x50 1\r\n'), reason: 'bad_port' },
  { name: 'v1 nothing after PROXY', bytes: v1('PROXY \r\n'), reason: 'bad_syntax' },
  { name: 'v1 UNKNOWNX', bytes: v1('PROXY UNKNOWNX\r\n'), reason: 'bad_family' },
  { name: 'v1 108 bytes without CRLF', bytes: v1(`PROXY UNKNOWN ${'x'.repeat(94)}`), reason: 'too_long' },
  { name: 'v1 CRLF at byte 108', bytes: v1(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), reason: 'too_long' },
  { name: 'v1 binary garbage after PROXY', bytes: Buffer.concat([v1('PROXY '), hex('00ff00ff0d0a')]), reason: 'bad_syntax' },
]

t.test('invalid headers: reason, at every split point and one byte at a time', async (t) => {
  for (const c of INVALID) {
    let agreed = 0
    for (const chunks of [...allSplits(c.bytes), ...allSplits(Buffer.concat([c.bytes, PAYLOAD]))]) {
      const o = feed(chunks, c.opts)
      if (o.kind !== 'error' || o.reason !== c.reason) {
        t.fail(`${c.name} split ${chunks.map((x) => x.length).join('+')}: ${o.kind} ${o.reason ?? ''}`)
        break
      }
      if (o.maxBuffered > Math.max(c.opts?.maxHeaderBytes ?? 4096, 107)) t.fail(`${c.name}: buffered ${o.maxBuffered}`)
      agreed++
    }
    t.ok(agreed > 0, `${c.name} -> ${c.reason}`)
    t.ok((PROXY_ERROR_REASONS as readonly string[]).includes(c.reason), `${c.reason} is an exported reason`)
  }
})

t.test('errors are decided as soon as the bytes allow', async (t) => {
  const early: Array<[string, Buffer, number]> = [
    ['v2 bad version at byte 12', v2('11'), 13],
    ['v2 bad command at byte 12', v2('23'), 13],
    ['v2 DGRAM at byte 13', v2('21 12'), 14],
    ['v2 oversized len at byte 15, nothing of the body buffered', v2('21 11 ffff'), 16],
    ['v1 over-long line at byte 107', v1(`PROXY ${'A'.repeat(101)}`), 107],
  ]
  for (const [name, bytes, at] of early) {
    const r = new HeaderReader()
    let decided = -1
    let maxBuffered = 0
    for (let i = 0; i < bytes.length; i++) {
      const x = r.push(bytes.subarray(i, i + 1))
      maxBuffered = Math.max(maxBuffered, r.buffered)
      if (x.kind !== 'more') {
        decided = i + 1
        t.equal(x.kind, 'error', name)
        break
      }
    }
    t.equal(decided, at, `${name}: decided after ${at} bytes`)
    t.ok(maxBuffered <= 107, `${name}: buffered ${maxBuffered}`)
  }
  // An attacker announcing 65535 bytes with a large cap: the reader buffers only what arrives.
  const r = new HeaderReader({ maxHeaderBytes: 65551 })
  t.equal(r.push(v2('21 11 ffff')).kind, 'more')
  t.equal(r.push(Buffer.alloc(1000)).kind, 'more')
  t.equal(r.buffered, 1016, 'only received bytes are held')
})

t.test('truncated: the stream ends inside a header', async (t) => {
  for (const [name, bytes] of [
    ['NLB header', NLB],
    ['NLB LOCAL header', NLB_LOCAL],
    ['v1 TCP4', v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')],
  ] as const) {
    for (let cut = 1; cut < bytes.length; cut++) {
      const o = feed([bytes.subarray(0, cut)])
      const sigLen = bytes[0] === 0x0d ? 12 : 6
      const want = cut < sigLen ? 'none' : 'error'
      if (o.kind !== want || (want === 'error' && o.reason !== 'truncated')) {
        t.fail(`${name} cut at ${cut}: ${o.kind} ${o.reason ?? ''}`)
        return
      }
      if (want === 'none' && !o.payload.equals(bytes.subarray(0, cut))) t.fail(`${name} cut at ${cut}: payload lost`)
    }
    t.pass(`${name}: every cut is truncated (or payload before the signature completes)`)
  }
})

t.test('stacked headers', async (t) => {
  const second = [NLB, v1('PROXY TCP4 6.6.6.6 10.0.1.23 1 2\r\n'), v1('PROXY '), hex(SIG)]
  for (const s of second) {
    const bytes = Buffer.concat([NLB, s, PAYLOAD])
    for (const chunks of allSplits(bytes)) {
      const o = feed(chunks)
      if (o.kind !== 'error' || o.reason !== 'stacked_header') {
        t.fail(`second ${s.subarray(0, 6).toString('hex')} split ${chunks.map((c) => c.length).join('+')}: ${o.kind}`)
        return
      }
    }
    t.pass(`NLB header then ${s.length}-byte signature: stacked_header at every split`)
  }
  // A v1 header behind a v1 header.
  t.equal(feed([v1('PROXY UNKNOWN\r\nPROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n')]).reason, 'stacked_header')

  // Payload that starts like a signature but diverges is payload, returned whole.
  for (const p of [Buffer.from('PROXZ!'), hex('0d0a0d0a00'), Buffer.from('P'), hex('0d0a0d0a000d0a51554954 0b')]) {
    const bytes = Buffer.concat([NLB, p, PAYLOAD])
    for (const chunks of allSplits(bytes)) {
      const o = feed(chunks)
      if (o.kind !== 'header' || !o.payload.equals(Buffer.concat([p, PAYLOAD]))) {
        t.fail(`payload ${p.toString('hex')} split ${chunks.map((c) => c.length).join('+')}: ${o.kind} ${o.payload.toString('hex')}`)
        return
      }
    }
    t.pass(`payload starting ${JSON.stringify(p.toString('latin1'))} is payload at every split`)
  }

  // A strict prefix then end(): the prefix is payload.
  const r = new HeaderReader()
  t.equal(r.push(Buffer.concat([NLB, Buffer.from('PROX')])).kind, 'more', 'rest "PROX" is undecided')
  const e = r.end()
  t.equal(e.kind, 'header')
  t.same(e.kind === 'header' && e.rest, Buffer.from('PROX'))

  // pass: a second header is payload.
  const pass = feed([Buffer.concat([NLB, NLB])], { stackedHeaders: 'pass' })
  t.equal(pass.kind, 'header')
  t.same(pass.payload, NLB, 'the second header is handed on as payload')
})

t.test('StackedHeaderGuard on its own', async (t) => {
  const g = new StackedHeaderGuard()
  t.equal(g.push(Buffer.from('PRO')).kind, 'more')
  t.equal(g.buffered, 3)
  const r = g.push(Buffer.from('XY TCP4'))
  t.equal(r.kind === 'error' && r.error.code, 'ERR_PP_STACKED_HEADER')
  t.throws(() => g.push(Buffer.from('x')), { code: 'ERR_PP_READER_DONE' })
  const h = new StackedHeaderGuard()
  const p = h.push(PAYLOAD)
  t.equal(p.kind === 'payload' && p.rest, PAYLOAD, 'payload chunk handed back as is')
})

t.test('reader contract', async (t) => {
  const r = new HeaderReader()
  t.equal(r.push(NLB).kind, 'header')
  t.throws(() => r.push(PAYLOAD), { code: 'ERR_PP_READER_DONE' }, 'push after a final result throws')
  t.throws(() => r.end(), { code: 'ERR_PP_READER_DONE' })
  for (const bad of [231, 65552, 1.5, Number.NaN]) {
    t.throws(() => new HeaderReader({ maxHeaderBytes: bad }), { code: 'ERR_PP_BAD_OPTION' }, `maxHeaderBytes ${bad}`)
  }
  const err = feed([v2('11')])
  t.equal(err.reason, 'bad_version')
  const r2 = new HeaderReader()
  const x = r2.push(v2('31'))
  t.equal(x.kind === 'error' && x.error.code, 'ERR_PP_BAD_VERSION', 'code is ERR_PP_ + reason')
  t.equal(x.kind === 'error' && x.error.name, 'ProxyProtocolError')
})
