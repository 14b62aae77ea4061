// Micro-benchmark of the PROXY header reader: ns per connection for the NLB's 100-byte
// header (+ a small request) in one chunk, split in two, and one byte at a time; v1; and
// proxy-protocol-js parsing the same bytes (which does less: no TLVs, no CRC, no streaming).
//   npm run build && node build/proxy/header-parse.js [--iterations N]
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import ppjs from 'proxy-protocol-js'
import { encodeAwsVpceTlv, encodeV1, encodeV2, HeaderReader } from '../../dist/proxy-protocol/index.js'

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200000' } } })
const N = Number(values.iterations)

const src = { address: '203.0.113.7', port: 51234 }
const dst = { address: '10.0.1.23', port: 8080 }
const request = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')
const nlb = Buffer.concat([encodeV2({ command: 'PROXY', source: src, destination: dst, crc32c: true, padTo: 100 }), request])
const nlbVpce = Buffer.concat([
  encodeV2({
    command: 'PROXY',
    source: src,
    destination: dst,
    crc32c: true,
    padTo: 100,
    tlvs: [encodeAwsVpceTlv('vpce-0123456789abcdef0')],
  }),
  request,
])
const v1 = Buffer.concat([encodeV1({ family: 'TCP4', source: src, destination: dst }), request])
const halves = [nlb.subarray(0, 50), nlb.subarray(50)]
const bytes = Array.from(nlb.subarray(0, 100), (_, i) => nlb.subarray(i, i + 1)).concat([nlb.subarray(100)])

let sink = 0
function bench(name: string, n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 20000); i++) fn() // warm up
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn()
  const ns = ((performance.now() - t0) * 1e6) / n
  console.log(`${name.padEnd(52)} ${ns.toFixed(0).padStart(7)} ns/op`)
  return ns
}

function read(chunks: readonly Buffer[]): void {
  const r = new HeaderReader()
  for (const c of chunks) {
    const x = r.push(c)
    if (x.kind === 'header' || x.kind === 'none') {
      sink += x.rest.length
      return
    }
    if (x.kind !== 'more') throw new Error(x.kind)
  }
}

console.log(`PROXY header parse, ${N} iterations each (node ${process.version})`)
const one = bench('NLB v2 header + request, one chunk', N, () => read([nlb]))
bench('NLB v2 header with VPC endpoint TLV, one chunk', N, () => read([nlbVpce]))
const two = bench('NLB v2 header + request, split in 2 chunks', N, () => read(halves))
const each = bench('NLB v2 header, one byte per chunk (101 pushes)', Math.ceil(N / 20), () => read(bytes))
bench('v1 TCP4 line + request, one chunk', N, () => read([v1]))
bench('non-PROXY request (decided at byte 0)', N, () => read([request]))
const u8 = new Uint8Array(nlb)
const theirs = bench('proxy-protocol-js V2ProxyProtocol.parse (no TLV/CRC)', N, () => {
  sink += ppjs.V2ProxyProtocol.parse(u8).data?.length ?? 0
})
console.log(
  `split in 2 / one chunk: ${(two / one).toFixed(2)}x; bytewise / one chunk: ${(each / one).toFixed(1)}x; proxy-protocol-js / ours: ${(theirs / one).toFixed(2)}x`,
)
if (sink === 0) console.log('')
