// Property-based fuzzing of the streaming PROXY header reader (dist/proxy-protocol).
//   npm run fuzz -- --runs 100000 --seed 1
// Generates valid headers (v1, v2 with random TLVs), mutations of them, random bytes and
// signatures followed by random bytes; each is cut into random chunks (sometimes one byte at
// a time) and checked against bench/fuzz/property.ts. Prints counts per category, result kind
// and error reason, and exits 1 with the shrunk counterexample on the first violation.
import fc from 'fast-check'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { HeaderReader, StackedHeaderGuard } from '../../dist/proxy-protocol/index.js'
import { fuzzCaseArb } from './arbitraries.js'
import { checkCase } from './property.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
  },
})
const runs = Number(values.runs)
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error('usage: proxy-header.js [--runs N] [--seed S]')
  process.exit(2)
}

const impl = { HeaderReader, StackedHeaderGuard }
const tally = new Map<string, number>()
const bump = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1)
let bytes = 0
let slowest = 0
let maxBuffered = 0

const started = performance.now()
const result = fc.check(
  fc.property(fuzzCaseArb, (c) => {
    const t0 = performance.now()
    const o = checkCase(impl, c)
    const ms = performance.now() - t0
    if (ms > slowest) slowest = ms
    if (o.maxBuffered > maxBuffered) maxBuffered = o.maxBuffered
    bytes += c.bytes.length
    bump(`${c.category}\t${o.kind}${o.reason ? ` ${o.reason}` : ''}`)
  }),
  { numRuns: runs, seed },
)
const elapsed = (performance.now() - started) / 1000

console.log(
  `PROXY header fuzz: ${result.numRuns} inputs (seed ${seed}), ${(bytes / 1e6).toFixed(1)} MB, ${elapsed.toFixed(1)} s, ${Math.round(result.numRuns / elapsed)} inputs/s`,
)
console.log(`slowest input ${slowest.toFixed(2)} ms; most bytes buffered by a reader ${maxBuffered}`)
const byCategory = new Map<string, Array<[string, number]>>()
for (const [k, n] of [...tally].sort((a, b) => b[1] - a[1])) {
  const [cat, outcome] = k.split('\t') as [string, string]
  const list = byCategory.get(cat) ?? []
  list.push([outcome, n])
  byCategory.set(cat, list)
}
for (const [cat, list] of byCategory) {
  const total = list.reduce((s, [, n]) => s + n, 0)
  console.log(`  ${cat} (${total}): ${list.map(([o, n]) => `${o} ${n}`).join(', ')}`)
}
if (result.failed) {
  console.error(fc.defaultReportMessage(result))
  process.exit(1)
}
console.log('no property violated')
