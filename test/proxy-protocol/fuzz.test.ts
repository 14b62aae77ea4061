// A small seeded run of the fuzzer's property (bench/fuzz) against the reader in src/.
// The full run is `npm run fuzz` (100k inputs, random seed).
import t from 'tap'
import fc from 'fast-check'
import { HeaderReader, StackedHeaderGuard } from '../../src/proxy-protocol/index.js'
import { fuzzCaseArb } from '../../bench/fuzz/arbitraries.js'
import { checkCase } from '../../bench/fuzz/property.js'

t.test('3000 generated inputs satisfy the reader property (seed 20261122)', async (t) => {
  const kinds = new Map<string, number>()
  fc.assert(
    fc.property(fuzzCaseArb, (c) => {
      const o = checkCase({ HeaderReader, StackedHeaderGuard }, c)
      const k = `${c.category}/${o.kind}`
      kinds.set(k, (kinds.get(k) ?? 0) + 1)
    }),
    { numRuns: 3000, seed: 20261122 },
  )
  // The generator must reach every category and outcome, or the property proves little.
  for (const k of ['valid/header', 'mutated/header', 'mutated/error', 'random/none', 'signature+random/error']) {
    t.ok((kinds.get(k) ?? 0) > 0, `${k}: ${kinds.get(k) ?? 0}`)
  }
})
