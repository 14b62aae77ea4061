// Drives a HeaderReader the way the ingress does: push chunks until a final result, then treat
// the remaining chunks as payload (through a StackedHeaderGuard when the reader asks for it),
// and call end() when the chunks run out first. Returns one comparable outcome.
// The reader classes are passed in, so the tap tests can drive src/ and the fuzzer dist/.
import type { GuardResult, ProxyHeader, ReaderOptions, ReadResult } from '../../dist/proxy-protocol/index.js'

// Structural, so that src/ and dist/ classes (distinct private members) both fit.
export interface ReaderImpl {
  HeaderReader: new (opts?: ReaderOptions) => { push(chunk: Buffer): ReadResult; end(): ReadResult; readonly buffered: number }
  StackedHeaderGuard: new () => { push(chunk: Buffer): GuardResult; end(): GuardResult; readonly buffered: number }
}

export interface Outcome {
  kind: 'header' | 'none' | 'error'
  header?: ProxyHeader
  reason?: string
  /** Every byte handed on as payload (rest plus the chunks after the final result). */
  payload: Buffer
  /** Most bytes the reader (and guard) held at once. */
  maxBuffered: number
  /** push() calls that returned 'more'. */
  mores: number
}

const EMPTY = Buffer.alloc(0)

/** Splits `bytes` at the given offsets (ascending, inside the buffer). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = []
  let prev = 0
  for (const o of offsets) {
    out.push(bytes.subarray(prev, o))
    prev = o
  }
  out.push(bytes.subarray(prev))
  return out
}

export function bytewise(bytes: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1))
  return out
}

/** Every way to cut `bytes` in two, plus whole and one byte at a time. */
export function allSplits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]]
  for (let i = 1; i < bytes.length; i++) out.push(splitAt(bytes, [i]))
  out.push(bytewise(bytes))
  return out
}

export function feedWith(impl: ReaderImpl, chunks: readonly Buffer[], opts?: ReaderOptions): Outcome {
  const reader = new impl.HeaderReader(opts)
  let maxBuffered = 0
  let mores = 0
  for (let i = 0; i < chunks.length; i++) {
    const r = reader.push(chunks[i]!)
    maxBuffered = Math.max(maxBuffered, reader.buffered)
    if (r.kind === 'more') {
      mores++
      continue
    }
    const after = chunks.slice(i + 1)
    if (r.kind === 'error') return { kind: 'error', reason: r.error.reason, payload: EMPTY, maxBuffered, mores }
    if (r.kind === 'none') return { kind: 'none', payload: Buffer.concat([r.rest, ...after]), maxBuffered, mores }
    if (!r.stackCheckPending) return { kind: 'header', header: r.header, payload: Buffer.concat([r.rest, ...after]), maxBuffered, mores }
    return guard(impl, r.header, after, maxBuffered, mores)
  }
  const r = reader.end()
  if (r.kind === 'error') return { kind: 'error', reason: r.error.reason, payload: EMPTY, maxBuffered, mores }
  if (r.kind === 'none') return { kind: 'none', payload: r.rest, maxBuffered, mores }
  if (r.kind === 'header') return { kind: 'header', header: r.header, payload: r.rest, maxBuffered, mores }
  throw new Error('end() returned more')
}

function guard(impl: ReaderImpl, header: ProxyHeader, chunks: readonly Buffer[], maxBuffered: number, mores: number): Outcome {
  const g = new impl.StackedHeaderGuard()
  for (let i = 0; i < chunks.length; i++) {
    const r = g.push(chunks[i]!)
    maxBuffered = Math.max(maxBuffered, g.buffered)
    if (r.kind === 'more') continue
    if (r.kind === 'error') return { kind: 'error', reason: r.error.reason, payload: EMPTY, maxBuffered, mores }
    return { kind: 'header', header, payload: Buffer.concat([r.rest, ...chunks.slice(i + 1)]), maxBuffered, mores }
  }
  const r = g.end()
  if (r.kind !== 'payload') throw new Error('guard end() did not return payload')
  return { kind: 'header', header, payload: r.rest, maxBuffered, mores }
}

/** The header as plain data (Buffers as hex) for deep comparison. */
export function plain(h: ProxyHeader | undefined): unknown {
  if (!h) return undefined
  return {
    ...h,
    tlvs: h.tlvs.map((t) => ({ type: t.type, value: t.value.toString('hex') })),
    uniqueId: h.uniqueId?.toString('hex'),
  }
}
