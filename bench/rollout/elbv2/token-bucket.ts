// An account-wide API rate limit as AWS applies it: a token bucket per action class.
// `burst` tokens at most; `refillPerSecond` tokens come back per simulated second. The
// lab runs time-scaled (timeScale 0.1 = ten times faster than AWS), so in wall-clock
// terms the bucket refills at refillPerSecond / timeScale: the ratio between API calls
// and the rate limit stays what it would be in AWS.
export interface TokenBucketOptions {
  burst: number
  refillPerSecond: number
  timeScale?: number
  now?: () => number
}

export class TokenBucket {
  readonly burst: number
  readonly refillPerMs: number
  private tokens: number
  private last: number
  private readonly now: () => number

  constructor(opts: TokenBucketOptions) {
    if (!(opts.burst >= 1)) throw new RangeError(`token bucket burst must be >= 1, got ${opts.burst}`)
    if (!(opts.refillPerSecond > 0)) throw new RangeError(`token bucket refill must be > 0, got ${opts.refillPerSecond}`)
    const timeScale = opts.timeScale ?? 1
    this.burst = opts.burst
    this.refillPerMs = opts.refillPerSecond / (1000 * timeScale)
    this.now = opts.now ?? Date.now
    this.tokens = opts.burst
    this.last = this.now()
  }

  /** Take one token; false when the bucket is empty (the caller answers Throttling). */
  take(): boolean {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.refillPerMs)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  available(): number {
    return Math.min(this.burst, this.tokens + (this.now() - this.last) * this.refillPerMs)
  }
}
