// fast-check arbitraries for the PROXY header reader, shared by the fuzz script
// (bench/fuzz/proxy-header.ts) and its seeded tap run (test/proxy-protocol/fuzz.test.ts).
// A case is some bytes, how to cut them into chunks, reader options and, for unmutated valid
// headers, the header the bytes must parse to.
import fc from 'fast-check'
import { canonicalIP, encodeAwsVpceTlv, encodeV1, encodeV2 } from '../../dist/proxy-protocol/index.js'
import type { Endpoint, Family, ProxyHeader, ReaderOptions, SslInfo, Tlv } from '../../dist/proxy-protocol/index.js'

export type Category = 'valid' | 'mutated' | 'random' | 'signature+random'

export interface FuzzCase {
  category: Category
  bytes: Buffer
  /** Chunk boundaries (sorted offsets inside bytes). */
  cuts: number[]
  /** Also feed one byte at a time. */
  bytewise: boolean
  opts: Required<ReaderOptions>
  /** valid only: the encoded header's length and the fields it must parse to. */
  headerLength?: number
  expected?: ProxyHeader
}

const V2_SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex')
const V1_SIG = Buffer.from('PROXY ', 'latin1')

const byte = fc.integer({ min: 0, max: 255 })
const port = fc.integer({ min: 0, max: 65535 })
const ascii = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-./_'), minLength: min, maxLength: max })
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a))

const ipv4 = fc.tuple(byte, byte, byte, byte).map((q) => q.join('.'))
/** IPv6 with zero runs and IPv4-mapped forms likely, as canonical text. */
const ipv6 = fc
  .oneof(
    fc
      .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
      .map((w) => w.map((x) => x.toString(16)).join(':')),
    ipv4.map((v4) => `::ffff:${v4}`),
  )
  .map((text) => canonicalIP(text)!.address)

interface GenTlv {
  tlv: Tlv
  apply: (h: ProxyHeader) => void
}

const sslArb = fc
  .record({
    client: byte,
    verify: fc.integer({ min: 0, max: 0xffffffff }),
    subs: fc.array(fc.tuple(fc.constantFrom(0x21, 0x22, 0x23, 0x24, 0x25, 0x26), ascii(0, 24)), { maxLength: 4 }),
  })
  .map(({ client, verify, subs }): GenTlv => {
    const head = Buffer.alloc(5)
    head[0] = client
    head.writeUInt32BE(verify, 1)
    const parts = [head]
    const ssl: SslInfo = { client, verify }
    const key = { 33: 'version', 34: 'cn', 35: 'cipher', 36: 'sigAlg', 37: 'keyAlg' } as const
    for (const [type, text] of subs) {
      const v = Buffer.from(text, 'latin1')
      const th = Buffer.alloc(3)
      th[0] = type
      th.writeUInt16BE(v.length, 1)
      parts.push(th, v)
      if (type in key) ssl[key[type as keyof typeof key]] = text
    }
    return {
      tlv: { type: 0x20, value: Buffer.concat(parts) },
      apply: (h) => {
        h.ssl = ssl
      },
    }
  })

const unknownType = fc.oneof(
  fc.integer({ min: 0x06, max: 0x1f }),
  fc.integer({ min: 0x31, max: 0xe9 }),
  fc.integer({ min: 0xeb, max: 0xff }),
)

const tlvArb: fc.Arbitrary<GenTlv> = fc.oneof(
  ascii(0, 20).map((s) => ({
    tlv: { type: 0x01, value: Buffer.from(s, 'latin1') },
    apply: (h: ProxyHeader) => {
      h.alpn = s
    },
  })),
  ascii(0, 40).map((s) => ({
    tlv: { type: 0x02, value: Buffer.from(s, 'latin1') },
    apply: (h: ProxyHeader) => {
      h.authority = s
    },
  })),
  bytes(128).map((b) => ({
    tlv: { type: 0x05, value: b },
    apply: (h: ProxyHeader) => {
      h.uniqueId = b
    },
  })),
  ascii(0, 16).map((s) => ({
    tlv: { type: 0x30, value: Buffer.from(s, 'latin1') },
    apply: (h: ProxyHeader) => {
      h.netns = s
    },
  })),
  fc.stringMatching(/^vpce-[0-9a-f]{17}$/).map((id) => ({
    tlv: encodeAwsVpceTlv(id),
    apply: (h: ProxyHeader) => {
      h.awsVpceId = id
    },
  })),
  fc
    .tuple(fc.integer({ min: 2, max: 255 }), bytes(20))
    .map(([sub, b]) => ({ tlv: { type: 0xea, value: Buffer.concat([Buffer.from([sub]), b]) }, apply: () => {} })),
  sslArb,
  bytes(64).map((b) => ({ tlv: { type: 0x04, value: b }, apply: () => {} })),
  fc.tuple(unknownType, bytes(64)).map(([type, b]) => ({ tlv: { type, value: b }, apply: () => {} })),
)

interface ValidHeader {
  bytes: Buffer
  expected: ProxyHeader
}

function base(
  version: 1 | 2,
  command: 'PROXY' | 'LOCAL',
  family: Family,
  source: Endpoint | null,
  destination: Endpoint | null,
): ProxyHeader {
  return { version, command, family, source, destination, tlvs: [], byteLength: 0 }
}

const v2Proxy = fc
  .record({
    six: fc.boolean(),
    s4: ipv4,
    d4: ipv4,
    s6: ipv6,
    d6: ipv6,
    sp: port,
    dp: port,
    tlvs: fc.array(tlvArb, { maxLength: 6 }),
    crc: fc.boolean(),
    pad: fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 3, max: 400 })),
  })
  .map(({ six, s4, d4, s6, d6, sp, dp, tlvs, crc, pad }): ValidHeader => {
    const family = six ? 'TCP6' : 'TCP4'
    const source = { address: six ? s6 : s4, port: sp }
    const destination = { address: six ? d6 : d4, port: dp }
    const input = { command: 'PROXY' as const, source, destination, tlvs: tlvs.map((t) => t.tlv), crc32c: crc }
    const natural = encodeV2(input).length
    const b = pad < 0 ? encodeV2(input) : encodeV2({ ...input, padTo: natural + pad })
    const expected = base(2, 'PROXY', family, source, destination)
    for (const t of tlvs) t.apply(expected)
    // tlvs as read: CRC first (value from the bytes), the generated ones, then the NOOP pad.
    expected.tlvs = tlvsAsEncoded(b, 16 + (six ? 36 : 12))
    if (crc) expected.crc32c = 'valid'
    expected.byteLength = b.length
    return { bytes: b, expected }
  })

/** The TLVs of an encoded v2 header as the reader reports them: every one, in wire order. */
function tlvsAsEncoded(b: Buffer, from: number): Tlv[] {
  const out: Tlv[] = []
  for (let off = from; off < b.length; ) {
    const len = b.readUInt16BE(off + 1)
    out.push({ type: b[off]!, value: b.subarray(off + 3, off + 3 + len) })
    off += 3 + len
  }
  return out
}

const v2Other = fc
  .record({
    command: fc.constantFrom('PROXY' as const, 'LOCAL' as const),
    family: fc.constantFrom<Family>('TCP4', 'TCP6', 'UNSPEC', 'UNIX'),
    tlvs: fc.array(tlvArb, { maxLength: 3 }),
    crc: fc.boolean(),
  })
  .filter(({ command, family }) => command === 'LOCAL' || family === 'UNSPEC' || family === 'UNIX')
  .map(({ command, family, tlvs, crc }): ValidHeader => {
    const b = encodeV2({ command, family, tlvs: tlvs.map((t) => t.tlv), crc32c: crc })
    const expected = base(2, command, family, null, null)
    if (command === 'PROXY' && family === 'UNIX') {
      for (const t of tlvs) t.apply(expected)
      expected.tlvs = tlvsAsEncoded(b, 16 + 216)
      if (crc) expected.crc32c = 'valid'
    }
    expected.byteLength = b.length
    return { bytes: b, expected }
  })

const v1Header = fc
  .record({ kind: fc.constantFrom('TCP4', 'TCP6', 'UNSPEC'), s4: ipv4, d4: ipv4, s6: ipv6, d6: ipv6, sp: port, dp: port })
  .map(({ kind, s4, d4, s6, d6, sp, dp }): ValidHeader => {
    if (kind === 'UNSPEC') {
      const b = encodeV1({ family: 'UNSPEC' })
      return { bytes: b, expected: { ...base(1, 'PROXY', 'UNSPEC', null, null), byteLength: b.length } }
    }
    const source = { address: kind === 'TCP4' ? s4 : s6, port: sp }
    const destination = { address: kind === 'TCP4' ? d4 : d6, port: dp }
    const b = encodeV1({ family: kind as 'TCP4' | 'TCP6', source, destination })
    return { bytes: b, expected: { ...base(1, 'PROXY', kind as Family, source, destination), byteLength: b.length } }
  })

export const validHeaderArb: fc.Arbitrary<ValidHeader> = fc.oneof(
  { arbitrary: v2Proxy, weight: 5 },
  { arbitrary: v2Other, weight: 2 },
  { arbitrary: v1Header, weight: 3 },
)

const payloadArb = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  bytes(40),
  fc.constant(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')),
  fc
    .constantFrom(V1_SIG, V2_SIG, Buffer.from('PROX'), V2_SIG.subarray(0, 7))
    .chain((s) => bytes(8).map((tail) => Buffer.concat([s, tail]))),
)

const optsArb: fc.Arbitrary<Required<ReaderOptions>> = fc.record({
  maxHeaderBytes: fc.oneof({ arbitrary: fc.constant(4096), weight: 4 }, fc.constant(232), fc.integer({ min: 232, max: 65551 })),
  crcMismatch: fc.constantFrom('close' as const, 'accept' as const),
  stackedHeaders: fc.constantFrom('reject' as const, 'pass' as const),
})

type Mutation = [kind: 'set' | 'truncate' | 'len' | 'insert' | 'delete' | 'stack', at: number, value: number, extra: Buffer]
const mutationArb: fc.Arbitrary<Mutation> = fc.tuple(
  fc.constantFrom('set', 'set', 'set', 'truncate', 'len', 'insert', 'delete', 'stack') as fc.Arbitrary<Mutation[0]>,
  fc.nat(),
  fc.integer({ min: 0, max: 0xffff }),
  bytes(8),
)

function mutate(b: Buffer, muts: readonly Mutation[]): Buffer {
  let out = Buffer.from(b)
  for (const [kind, at, value, extra] of muts) {
    const i = out.length === 0 ? 0 : at % out.length
    switch (kind) {
      case 'set':
        if (out.length) out[i] = value & 0xff
        break
      case 'truncate':
        out = out.subarray(0, i)
        break
      case 'len':
        if (out.length >= 16 && out[0] === 0x0d) out.writeUInt16BE(value, 14)
        break
      case 'insert':
        out = Buffer.concat([out.subarray(0, i), extra, out.subarray(i)])
        break
      case 'delete':
        out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1 + (value % 8))])
        break
      case 'stack':
        out = Buffer.concat([out, b])
        break
    }
  }
  return out
}

function withCuts<T extends { bytes: Buffer }>(arb: fc.Arbitrary<T>) {
  return fc.tuple(arb, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 9 }), optsArb).map(([x, raw, bw, opts]) => {
    const n = x.bytes.length
    const cuts = n < 2 ? [] : [...new Set(raw.map((r) => 1 + (r % (n - 1))))].sort((a, b) => a - b)
    return { x, cuts, bytewise: bw === 0, opts }
  })
}

const validCase = withCuts(fc.tuple(validHeaderArb, payloadArb).map(([h, p]) => ({ h, bytes: Buffer.concat([h.bytes, p]) }))).map(
  ({ x, cuts, bytewise, opts }): FuzzCase => ({
    category: 'valid',
    bytes: x.bytes,
    cuts,
    bytewise,
    opts,
    headerLength: x.h.bytes.length,
    expected: x.h.expected,
  }),
)

const mutatedCase = withCuts(
  fc
    .tuple(validHeaderArb, payloadArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
    .map(([h, p, m]) => ({ bytes: mutate(Buffer.concat([h.bytes, p]), m) })),
).map(({ x, cuts, bytewise, opts }): FuzzCase => ({ category: 'mutated', bytes: x.bytes, cuts, bytewise, opts }))

const randomCase = withCuts(bytes(300).map((b) => ({ bytes: b }))).map(
  ({ x, cuts, bytewise, opts }): FuzzCase => ({ category: 'random', bytes: x.bytes, cuts, bytewise, opts }),
)

/** A signature, sometimes a plausible v2 fixed part, then random bytes: gets past signature checks. */
const signatureCase = withCuts(
  fc
    .tuple(
      fc.constantFrom(
        V1_SIG,
        V2_SIG,
        Buffer.concat([V2_SIG, Buffer.from([0x21, 0x11])]),
        Buffer.concat([V2_SIG, Buffer.from([0x20, 0x00])]),
        Buffer.concat([V1_SIG, Buffer.from('TCP4 ')]),
        Buffer.concat([V1_SIG, Buffer.from('TCP6 ')]),
      ),
      bytes(300),
    )
    .map(([s, b]) => ({ bytes: Buffer.concat([s, b]) })),
).map(({ x, cuts, bytewise, opts }): FuzzCase => ({ category: 'signature+random', bytes: x.bytes, cuts, bytewise, opts }))

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  { arbitrary: validCase, weight: 3 },
  { arbitrary: mutatedCase, weight: 4 },
  { arbitrary: randomCase, weight: 1 },
  { arbitrary: signatureCase, weight: 2 },
)
