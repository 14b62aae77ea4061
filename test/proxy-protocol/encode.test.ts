// The encoder: byte-exact against the hand-built NLB headers, and round trips through the reader.
import t from 'tap'
import { encodeAwsVpceTlv, encodeV1, encodeV2, HeaderReader } from '../../src/proxy-protocol/index.js'
import type { ProxyHeader } from '../../src/proxy-protocol/index.js'
import { hex } from './feed.js'

const SIG = '0d0a0d0a000d0a515549540a'
const NOOP62 = `04003e${'00'.repeat(62)}`
const src = { address: '203.0.113.7', port: 51234 }
const dst = { address: '10.0.1.23', port: 8080 }

function read(b: Buffer): ProxyHeader {
  const r = new HeaderReader({ maxHeaderBytes: 65551 }).push(b)
  if (r.kind !== 'header') throw new Error(`expected a header, got ${r.kind}${r.kind === 'error' ? ` ${r.error.message}` : ''}`)
  t.equal(r.rest.length, 0)
  return r.header
}

t.test('encodeV2 reproduces the NLB headers byte for byte', async (t) => {
  t.same(
    encodeV2({ command: 'PROXY', source: src, destination: dst, crc32c: true, padTo: 100 }),
    hex(`${SIG} 21 11 0054 cb007107 0a000117 c822 1f90 030004 6436cab2 ${NOOP62}`),
    'client header',
  )
  t.same(
    encodeV2({
      command: 'PROXY',
      source: src,
      destination: dst,
      crc32c: true,
      padTo: 100,
      tlvs: [encodeAwsVpceTlv('vpce-0123456789abcdef0')],
    }),
    hex(
      `${SIG} 21 11 0054 cb007107 0a000117 c822 1f90 030004 8e45f81e ea0017 01 767063652d3031323334353637383961626364656630 040024 ${'00'.repeat(36)}`,
    ),
    'with VPC endpoint',
  )
  t.same(
    encodeV2({ command: 'LOCAL', family: 'TCP4', crc32c: true, padTo: 100 }),
    hex(`${SIG} 20 11 0054 ${'00'.repeat(12)} 030004 3b5bb4f7 ${NOOP62}`),
    'health-check LOCAL header',
  )
})

t.test('encodeV2 round trips', async (t) => {
  const cases: Array<[string, Parameters<typeof encodeV2>[0], Partial<ProxyHeader>]> = [
    [
      'TCP4 minimal',
      { command: 'PROXY', source: { address: '1.2.3.4', port: 0 }, destination: { address: '255.255.255.255', port: 65535 } },
      { family: 'TCP4', byteLength: 28, source: { address: '1.2.3.4', port: 0 }, destination: { address: '255.255.255.255', port: 65535 } },
    ],
    [
      'TCP6 from non-canonical text',
      { command: 'PROXY', source: { address: '2001:DB8:0:0:0:0:0:1', port: 1 }, destination: { address: '::FFFF:10.0.0.1', port: 2 } },
      { family: 'TCP6', byteLength: 52, source: { address: '2001:db8::1', port: 1 }, destination: { address: '::ffff:10.0.0.1', port: 2 } },
    ],
    ['UNSPEC PROXY', { command: 'PROXY' }, { family: 'UNSPEC', source: null, byteLength: 16 }],
    ['LOCAL', { command: 'LOCAL' }, { command: 'LOCAL', family: 'UNSPEC', byteLength: 16 }],
    [
      'UNIX',
      { command: 'PROXY', family: 'UNIX', source: { address: '/run/a.sock', port: 0 }, destination: { address: '/run/b.sock', port: 0 } },
      { family: 'UNIX', source: null, byteLength: 232 },
    ],
    [
      'TLVs',
      {
        command: 'PROXY',
        source: src,
        destination: dst,
        crc32c: true,
        tlvs: [
          { type: 0x01, value: Buffer.from('h2') },
          { type: 0x02, value: Buffer.from('example.com') },
          { type: 0x05, value: Buffer.alloc(128, 7) },
          { type: 0x30, value: Buffer.from('netns') },
          { type: 0x20, value: hex('01 00000000 210007 544c5376312e33 220002 4142') },
          { type: 0xe0, value: Buffer.alloc(0) },
        ],
      },
      {
        alpn: 'h2',
        authority: 'example.com',
        netns: 'netns',
        crc32c: 'valid',
        ssl: { client: 1, verify: 0, version: 'TLSv1.3', cn: 'AB' },
      },
    ],
    ['large NOOP pad', { command: 'PROXY', source: src, destination: dst, padTo: 65551 }, { byteLength: 65551 }],
  ]
  for (const [name, input, want] of cases) {
    const h = read(encodeV2(input))
    t.match(h, want, name)
    if (input.tlvs)
      t.same(
        h.tlvs.filter((x) => x.type !== 0x03).map((x) => [x.type, x.value.toString('hex')]),
        input.tlvs.map((x) => [x.type, x.value.toString('hex')]),
        `${name}: tlvs in order`,
      )
  }
})

t.test('encodeV1 round trips', async (t) => {
  t.equal(encodeV1({ family: 'TCP4', source: src, destination: dst }).toString(), 'PROXY TCP4 203.0.113.7 10.0.1.23 51234 8080\r\n')
  t.equal(encodeV1({ family: 'UNSPEC' }).toString(), 'PROXY UNKNOWN\r\n')
  const six = encodeV1({ family: 'TCP6', source: { address: '2001:0db8::0001', port: 65535 }, destination: { address: '::1', port: 0 } })
  t.equal(six.toString(), 'PROXY TCP6 2001:db8::1 ::1 65535 0\r\n', 'written in canonical form')
  t.match(read(six), {
    version: 1,
    family: 'TCP6',
    source: { address: '2001:db8::1', port: 65535 },
    destination: { address: '::1', port: 0 },
  })
  t.match(read(encodeV1({ family: 'UNSPEC' })), { version: 1, family: 'UNSPEC', source: null })
})

t.test('encoder input errors', async (t) => {
  const code = { code: 'ERR_PP_BAD_ENCODE_INPUT' }
  t.throws(() => encodeV1({ family: 'TCP4', source: { address: '::1', port: 1 }, destination: dst }), code, 'v1 family mismatch')
  t.throws(() => encodeV1({ family: 'TCP4', source: src }), code, 'v1 missing destination')
  t.throws(() => encodeV1({ family: 'TCP4', source: { address: '1.2.3.4', port: 65536 }, destination: dst }), code, 'v1 port range')
  t.throws(
    () => encodeV2({ command: 'PROXY', family: 'TCP4', source: { address: '::1', port: 1 }, destination: dst }),
    code,
    'v2 family mismatch',
  )
  t.throws(() => encodeV2({ command: 'PROXY', family: 'TCP6' }), code, 'v2 PROXY TCP6 without addresses')
  t.throws(
    () => encodeV2({ command: 'PROXY', source: { address: 'example.com', port: 1 }, destination: dst }),
    code,
    'v2 family not inferable',
  )
  t.throws(() => encodeV2({ command: 'PROXY', source: src, destination: dst, padTo: 30 }), code, 'padTo leaves 2 bytes')
  t.throws(() => encodeV2({ command: 'PROXY', source: src, destination: dst, padTo: 20 }), code, 'padTo below the content')
  t.throws(
    () => encodeV2({ command: 'PROXY', source: src, destination: dst, tlvs: [{ type: 256, value: Buffer.alloc(0) }] }),
    code,
    'TLV type not a byte',
  )
  t.throws(
    () => encodeV2({ command: 'PROXY', source: src, destination: dst, tlvs: [{ type: 1, value: Buffer.alloc(65536) }] }),
    code,
    'TLV too long',
  )
  t.throws(
    () => encodeV2({ command: 'PROXY', source: src, destination: dst, tlvs: [{ type: 1, value: Buffer.alloc(65535) }] }),
    code,
    'header above 65551',
  )
  t.throws(() => encodeAwsVpceTlv('vpce 1'), code, 'VPC endpoint id with a space')
  t.same(encodeV2({ command: 'PROXY', source: src, destination: dst, padTo: 28 }).length, 28, 'padTo equal to the content adds nothing')
})
