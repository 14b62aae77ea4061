// The fast lane's start-up check: one DescribeTargetGroupAttributes per target group (the elbv2
// observer's --target-group-arn, region and endpoint), after a random delay so pods starting
// together do not call together, and judged by ./attributes.ts. Outcomes:
//   verified     every group's attributes make failing health checks safe
//   refused      some group's do not: the lane falls back to pass (the caller logs it as an error)
//   unverified   no --target-group-arn, no permission, no such group, no answer: the lane stays on
// Throttling and transient failures are retried a few times; AccessDenied and a missing group
// are not (no retry fixes them). Calls spend the account-wide Describe* bucket like the observer.
import { performance } from 'node:perf_hooks'
import type { ObserverLogger } from '../observers/observer.js'
import { judgeAttributes, type AttributeVerdict, type LaneNeeds } from './attributes.js'
import { unretryable } from '../elbv2-errors.js'
import { loadElbv2, type LoadedElbv2 } from '../elbv2-client.js'

export type SafetyCheckState = 'not run' | 'checking' | 'verified' | 'refused' | 'unverified'

export const SAFETY_CHECK_ATTEMPTS = 3
export const SAFETY_CHECK_RETRY_MS = 5000

export interface SafetyCheckOptions {
  targetGroupArns: readonly string[]
  region?: string
  endpoint?: string
  needs: LaneNeeds
  logger: ObserverLogger
  /** Per-call timeout, ms. Default 10 000. */
  requestTimeoutMs?: number
  random?: () => number
}

interface GroupResult {
  arn: string
  verdict: AttributeVerdict | null
  error: { code: string; message: string } | null
}

const noRetry = (code: string): string | undefined => unretryable(code, 'DescribeTargetGroupAttributes', 'k8s/fast-lane/iam-policy.json')

export class SafetyCheck {
  readonly #opts: SafetyCheckOptions
  #state: SafetyCheckState = 'not run'
  #why = 'not run yet'
  #groups: GroupResult[] = []
  #attempts = 0
  #at: number | null = null
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  readonly #abort = new AbortController()
  readonly #settled = new Set<(state: SafetyCheckState) => void>()

  constructor(opts: SafetyCheckOptions) {
    this.#opts = opts
    if (opts.targetGroupArns.length === 0) {
      this.#state = 'unverified'
      this.#why =
        "no --target-group-arn: the target group's attributes cannot be read, so unhealthy connection termination and the draining interval are not checked"
    }
  }

  get state(): SafetyCheckState {
    return this.#state
  }
  /** Why the state is what it is, in a sentence (for logs and /status). */
  get why(): string {
    return this.#why
  }

  /** `fn` runs once the check reached verified, refused or unverified. */
  onSettled(fn: (state: SafetyCheckState) => void): void {
    this.#settled.add(fn)
  }

  /** Run once, after a random delay within `maxDelayMs`. */
  start(maxDelayMs: number): void {
    if (this.#state !== 'not run' || this.#stopped) return
    this.#state = 'checking'
    this.#why = 'DescribeTargetGroupAttributes not answered yet'
    this.#timer = setTimeout(
      () => {
        void this.#attempt()
      },
      Math.round((this.#opts.random ?? Math.random)() * maxDelayMs),
    )
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined
    this.#attempts++
    let loaded: LoadedElbv2
    try {
      loaded = await loadElbv2({ region: this.#opts.region, endpoint: this.#opts.endpoint })
    } catch (err) {
      this.#settle('unverified', `could not build an ELBv2 client: ${(err as Error).message}`)
      return
    }
    try {
      this.#groups = await Promise.all(this.#opts.targetGroupArns.map((arn) => this.#read(loaded, arn)))
    } finally {
      loaded.client.destroy()
    }
    if (this.#stopped) return
    this.#at = performance.now()
    const refused = this.#groups.filter((g) => g.verdict !== null && !g.verdict.ok)
    if (refused.length > 0) {
      this.#settle('refused', refused.map((g) => `${g.arn}: ${g.verdict!.reason}`).join('; '))
      return
    }
    const failed = this.#groups.filter((g) => g.error !== null)
    const retryable = failed.filter((g) => noRetry(g.error!.code) === undefined)
    if (retryable.length > 0 && this.#attempts < SAFETY_CHECK_ATTEMPTS) {
      this.#opts.logger.warn(
        { groups: retryable.map((g) => ({ arn: g.arn, error: g.error })), attempt: this.#attempts },
        'fast lane: DescribeTargetGroupAttributes failed; trying again',
      )
      this.#timer = setTimeout(() => {
        void this.#attempt()
      }, SAFETY_CHECK_RETRY_MS)
      return
    }
    if (failed.length > 0) {
      this.#settle('unverified', failed.map((g) => `${g.arn}: ${g.error!.code}: ${noRetry(g.error!.code) ?? g.error!.message}`).join('; '))
      return
    }
    this.#settle('verified', this.#groups.map((g) => `${g.arn}: ${g.verdict!.reason}`).join('; '))
  }

  async #read({ sdk, client }: LoadedElbv2, arn: string): Promise<GroupResult> {
    const timeoutMs = this.#opts.requestTimeoutMs ?? 10_000
    const timeout = AbortSignal.timeout(timeoutMs)
    try {
      const out = await client.send(new sdk.DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }), {
        abortSignal: AbortSignal.any([this.#abort.signal, timeout]),
      })
      const attributes = new Map((out.Attributes ?? []).filter((a) => a.Key !== undefined).map((a) => [a.Key!, a.Value ?? '']))
      return { arn, verdict: judgeAttributes(attributes, this.#opts.needs), error: null }
    } catch (err) {
      const e = err as { name?: string; message?: string }
      const code = timeout.aborted ? 'RequestTimeout' : typeof e.name === 'string' ? e.name : 'Error'
      return {
        arn,
        verdict: null,
        error: { code, message: timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : String(e.message ?? err) },
      }
    }
  }

  #settle(state: 'verified' | 'refused' | 'unverified', why: string): void {
    if (this.#stopped) return
    this.#state = state
    this.#why = why
    for (const fn of this.#settled) fn(state)
  }

  view(): Record<string, unknown> {
    return {
      state: this.#state,
      why: this.#why,
      attempts: this.#attempts,
      secondsAgo: this.#at === null ? null : Math.round(performance.now() - this.#at) / 1000,
      targetGroups: this.#groups.map((g) => ({
        arn: g.arn,
        ok: g.verdict?.ok ?? null,
        connectionTermination: g.verdict?.connectionTermination ?? null,
        drainingIntervalSeconds: g.verdict?.drainingIntervalSeconds ?? null,
        neededDrainingIntervalSeconds: g.verdict?.neededDrainingIntervalSeconds ?? null,
        error: g.error,
      })),
    }
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#abort.abort()
  }
}
