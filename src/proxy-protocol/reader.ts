// The streaming PROXY header reader: one per connection, fed every chunk the socket reads
// until it returns a final result ('header', 'none' or 'error').
//
// States:
//   DETECT  collecting the header. The first byte picks the candidate signature (0x0D for v2,
//           'P' for v1); any byte that diverges from it decides 'none' (the stream is payload).
//           After the signature, v2 is held to its fixed part as soon as bytes 12..15 arrive
//           and then collected up to 16 + len; v1 up to LF, at most 107 bytes.
//   STACK   a header was read and the payload after it is a strict prefix of a signature:
//           wait until it either diverges (payload) or completes (a stacked header: error).
//   DONE    a final result was returned; push() throws.
//
// Fast path: a chunk holding a whole header while nothing is buffered is parsed in place and
// `rest` is a subarray of it. Bytes are copied only when a header is split across chunks,
// and then only the header's own bytes (never payload), so at most max(maxHeaderBytes, 107).
import { ProxyProtocolConfigError, ProxyProtocolError } from './errors.js'
import { V1_MAX_BYTES, V1_SIGNATURE, V2_FIXED_BYTES, V2_MAX_BYTES, V2_SIGNATURE } from './header.js'
import type { ProxyHeader } from './header.js'
import { findV1End, parseV1 } from './v1.js'
import { checkV2Fixed, parseV2, v2TotalLength } from './v2.js'

export interface ReaderOptions {
  /**
   * Largest v2 header accepted, 16-byte preamble included (bytes). Default 4096, range
   * 232..65551: 232 = 16 + the 216-byte UNIX address block, the largest header without TLVs;
   * the NLB sends 100. A larger length field is refused ('too_long') as soon as the 16 fixed
   * bytes are in, before any of the body is buffered. v1 lines are always capped at 107.
   */
  maxHeaderBytes?: number
  /** What a CRC32C TLV that does not match does: 'close' (default) errors 'bad_crc'; 'accept' reports crc32c: 'mismatch'. */
  crcMismatch?: 'close' | 'accept'
  /** 'reject' (default): a PROXY signature right after the header is an error 'stacked_header'. 'pass': it is payload. */
  stackedHeaders?: 'reject' | 'pass'
}

export type ReadResult =
  | { kind: 'more' }
  | {
      kind: 'header'
      header: ProxyHeader
      /** Payload bytes that followed the header (may be empty). */
      rest: Buffer
      /**
       * true when stackedHeaders is 'reject' but `rest` was empty, so the reader could not yet
       * check what follows. Feed the next chunks through a StackedHeaderGuard to finish the
       * check. The reader does not wait for them itself: a LOCAL health check or a
       * server-speaks-first protocol sends nothing more until answered.
       */
      stackCheckPending: boolean
    }
  | { kind: 'none'; rest: Buffer }
  | { kind: 'error'; error: ProxyProtocolError }

export type GuardResult = { kind: 'more' } | { kind: 'payload'; rest: Buffer } | { kind: 'error'; error: ProxyProtocolError }

export const DEFAULT_MAX_HEADER_BYTES = 4096
export const MIN_MAX_HEADER_BYTES = 232

const MORE: { kind: 'more' } = Object.freeze({ kind: 'more' })
const EMPTY = Buffer.alloc(0)

const State = { DETECT: 0, STACK: 1, DONE: 2 } as const
type State = (typeof State)[keyof typeof State]
// measure() outcomes besides a complete length (>= 0)
const M_MORE = -1
const M_NONE = -2
const M_ERROR = -3

function finalUsed(): Error {
  return new ProxyProtocolConfigError('ERR_PP_READER_DONE', 'HeaderReader already returned a final result')
}

/**
 * Decides whether payload starts with a PROXY signature (a header a client sent itself behind
 * the real one). Buffers at most 11 bytes: the longest strict prefix of a signature.
 */
export class StackedHeaderGuard {
  private stash: Buffer | null = null
  private stashLen = 0
  private done = false

  get buffered(): number {
    return this.stashLen
  }

  push(chunk: Buffer): GuardResult {
    if (this.done) throw finalUsed()
    const stashLen = this.stashLen
    const total = stashLen + chunk.length
    if (total === 0) return MORE
    const first = stashLen > 0 ? this.stash![0]! : chunk[0]!
    const sig = first === 0x50 ? V1_SIGNATURE : first === 0x0d ? V2_SIGNATURE : null
    if (sig !== null) {
      const m = Math.min(total, sig.length)
      let diverged = false
      for (let i = stashLen; i < m; i++) {
        if (chunk[i - stashLen] !== sig[i]) {
          diverged = true
          break
        }
      }
      if (!diverged) {
        if (total >= sig.length) {
          this.done = true
          return {
            kind: 'error',
            error: new ProxyProtocolError(
              'stacked_header',
              `a second PROXY ${sig === V1_SIGNATURE ? 'v1' : 'v2'} header follows the first`,
            ),
          }
        }
        this.stash ??= Buffer.allocUnsafe(V2_SIGNATURE.length)
        chunk.copy(this.stash, stashLen)
        this.stashLen = total
        return MORE
      }
    }
    this.done = true
    return { kind: 'payload', rest: this.takeWith(chunk) }
  }

  /** The stream ended: a strict prefix of a signature is payload. */
  end(): GuardResult {
    if (this.done) throw finalUsed()
    this.done = true
    return { kind: 'payload', rest: this.takeWith(EMPTY) }
  }

  private takeWith(chunk: Buffer): Buffer {
    if (this.stashLen === 0) return chunk
    const out = Buffer.concat([this.stash!.subarray(0, this.stashLen), chunk])
    this.stash = null
    this.stashLen = 0
    return out
  }
}

export class HeaderReader {
  private readonly maxHeaderBytes: number
  private readonly crcMismatch: 'close' | 'accept'
  private readonly rejectStacked: boolean
  private state: State = State.DETECT
  private pending: Buffer | null = null
  private have = 0
  private error: ProxyProtocolError | null = null
  private header: ProxyHeader | null = null
  private guard: StackedHeaderGuard | null = null

  constructor(opts: ReaderOptions = {}) {
    const max = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES
    if (!Number.isInteger(max) || max < MIN_MAX_HEADER_BYTES || max > V2_MAX_BYTES) {
      throw new ProxyProtocolConfigError(
        'ERR_PP_BAD_OPTION',
        `maxHeaderBytes must be an integer ${MIN_MAX_HEADER_BYTES}..${V2_MAX_BYTES}, got ${max}`,
      )
    }
    this.maxHeaderBytes = max
    this.crcMismatch = opts.crcMismatch ?? 'close'
    this.rejectStacked = (opts.stackedHeaders ?? 'reject') === 'reject'
  }

  /** Bytes the reader holds copies of right now (never above max(maxHeaderBytes, 107)). */
  get buffered(): number {
    return this.state === State.DETECT ? this.have : this.state === State.STACK ? this.guard!.buffered : 0
  }

  push(chunk: Buffer): ReadResult {
    if (this.state === State.STACK) return this.pushStack(chunk)
    if (this.state === State.DONE) throw finalUsed()
    if (this.have === 0) {
      // Fast path: decide on the chunk itself.
      const m = this.measure(chunk, chunk.length)
      if (m >= 0) return this.afterHeader(chunk, m, chunk.subarray(m))
      if (m === M_NONE) return this.finish({ kind: 'none', rest: chunk })
      if (m === M_ERROR) return this.fail()
    }
    return this.pushSplit(chunk)
  }

  /** The stream ended before a final result. */
  end(): ReadResult {
    if (this.state === State.STACK) {
      const g = this.guard!.end() as { kind: 'payload'; rest: Buffer }
      return this.finish({ kind: 'header', header: this.header!, rest: g.rest, stackCheckPending: false })
    }
    if (this.state === State.DONE) throw finalUsed()
    const b = this.pending
    const have = this.have
    if (have === 0 || b === null) return this.finish({ kind: 'none', rest: EMPTY })
    const sigLen = b[0] === 0x0d ? V2_SIGNATURE.length : V1_SIGNATURE.length
    if (have < sigLen) return this.finish({ kind: 'none', rest: Buffer.from(b.subarray(0, have)) })
    this.error = new ProxyProtocolError('truncated', `the stream ended after ${have} bytes of a v${sigLen === 12 ? 2 : 1} header`)
    return this.fail()
  }

  private pushSplit(chunk: Buffer): ReadResult {
    const before = this.have
    let used = 0
    for (;;) {
      const m = this.measure(this.pending!, this.have)
      if (m >= 0) return this.afterHeader(this.pending!, m, chunk.subarray(used))
      if (m === M_NONE)
        return this.finish({ kind: 'none', rest: before === 0 ? chunk : Buffer.concat([this.pending!.subarray(0, before), chunk]) })
      if (m === M_ERROR) return this.fail()
      if (used === chunk.length) return MORE
      used += this.copyNeeded(chunk, used)
    }
  }

  /** Copies into `pending` the next bytes the header needs from chunk[used..]; returns how many. */
  private copyNeeded(chunk: Buffer, used: number): number {
    const have = this.have
    const p = this.pending
    let want: number
    if (have === 0 || p === null) want = 1
    else if (p[0] === 0x0d) want = have < V2_FIXED_BYTES ? V2_FIXED_BYTES : v2TotalLength(p)
    else want = have < V1_SIGNATURE.length ? V1_SIGNATURE.length : V1_MAX_BYTES
    let n = Math.min(want - have, chunk.length - used)
    if (p !== null && have >= V1_SIGNATURE.length && p[0] === 0x50) {
      const lf = chunk.indexOf(0x0a, used)
      if (lf >= 0 && lf < used + n) n = lf - used + 1
    }
    this.ensure(want)
    chunk.copy(this.pending!, have, used, used + n)
    this.have = have + n
    return n
  }

  private ensure(size: number): void {
    const p = this.pending
    if (p !== null && p.length >= size) return
    const next = Buffer.allocUnsafe(Math.max(size, V2_FIXED_BYTES))
    if (p !== null) p.copy(next, 0, 0, this.have)
    this.pending = next
  }

  /** A complete header's length, or M_MORE / M_NONE / M_ERROR (this.error set), for b[0, have). */
  private measure(b: Buffer, have: number): number {
    if (have === 0) return M_MORE
    if (b[0] === 0x0d) {
      const n = Math.min(have, V2_SIGNATURE.length)
      for (let i = 1; i < n; i++) if (b[i] !== V2_SIGNATURE[i]) return M_NONE
      if (have <= V2_SIGNATURE.length) return M_MORE
      const err = checkV2Fixed(b, have, this.maxHeaderBytes)
      if (err !== null) {
        this.error = err
        return M_ERROR
      }
      if (have < V2_FIXED_BYTES) return M_MORE
      const total = v2TotalLength(b)
      return have >= total ? total : M_MORE
    }
    if (b[0] === 0x50) {
      const n = Math.min(have, V1_SIGNATURE.length)
      for (let i = 1; i < n; i++) if (b[i] !== V1_SIGNATURE[i]) return M_NONE
      if (have <= V1_SIGNATURE.length) return M_MORE
      const end = findV1End(b, V1_SIGNATURE.length, have)
      if (end > 0) return end
      if (have >= V1_MAX_BYTES) {
        this.error = new ProxyProtocolError('too_long', `no CRLF within the ${V1_MAX_BYTES} bytes a v1 line may take`)
        return M_ERROR
      }
      return M_MORE
    }
    return M_NONE
  }

  private afterHeader(b: Buffer, n: number, rest: Buffer): ReadResult {
    const parsed = b[0] === 0x0d ? parseV2(b, n, this.crcMismatch) : parseV1(b, n)
    if (parsed instanceof ProxyProtocolError) {
      this.error = parsed
      return this.fail()
    }
    this.have = 0
    if (!this.rejectStacked) return this.finish({ kind: 'header', header: parsed, rest, stackCheckPending: false })
    if (rest.length === 0) return this.finish({ kind: 'header', header: parsed, rest, stackCheckPending: true })
    // Fast path: the first payload byte already rules out a signature.
    const first = rest[0]
    if (first !== 0x50 && first !== 0x0d) return this.finish({ kind: 'header', header: parsed, rest, stackCheckPending: false })
    this.header = parsed
    this.guard = new StackedHeaderGuard()
    this.state = State.STACK
    return this.pushStack(rest)
  }

  private pushStack(chunk: Buffer): ReadResult {
    const g = this.guard!.push(chunk)
    if (g.kind === 'more') return MORE
    if (g.kind === 'error') {
      this.error = g.error
      return this.fail()
    }
    return this.finish({ kind: 'header', header: this.header!, rest: g.rest, stackCheckPending: false })
  }

  private fail(): ReadResult {
    return this.finish({ kind: 'error', error: this.error! })
  }

  private finish(r: ReadResult): ReadResult {
    this.state = State.DONE
    this.pending = null
    this.have = 0
    this.guard = null
    return r
  }
}
