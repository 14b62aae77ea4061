// The chunk driver from bench/fuzz/feed.ts bound to the reader in src/.
import { HeaderReader, StackedHeaderGuard } from '../../src/proxy-protocol/index.js'
import type { ReaderOptions } from '../../src/proxy-protocol/index.js'
import { feedWith } from '../../bench/fuzz/feed.js'
import type { Outcome } from '../../bench/fuzz/feed.js'

export { allSplits, bytewise, plain, splitAt } from '../../bench/fuzz/feed.js'
export type { Outcome } from '../../bench/fuzz/feed.js'

export function feed(chunks: readonly Buffer[], opts?: ReaderOptions): Outcome {
  return feedWith({ HeaderReader, StackedHeaderGuard }, chunks, opts)
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex')
}
