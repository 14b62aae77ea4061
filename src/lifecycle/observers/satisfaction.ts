// The one-way "satisfied" flag shared by the observers: false until set, then true for good, with a
// promise that resolves when it is set.

export class Satisfaction {
  #satisfied = false
  #at: number | undefined
  #resolve!: () => void
  readonly #promise: Promise<void>

  constructor () {
    this.#promise = new Promise<void>((resolve) => { this.#resolve = resolve })
  }

  get satisfied (): boolean { return this.#satisfied }

  /** When it was set (performance.now() ms), or undefined. */
  get at (): number | undefined { return this.#at }

  /** Sets the flag; returns false if it was already set. */
  set (now: number): boolean {
    if (this.#satisfied) return false
    this.#satisfied = true
    this.#at = now
    this.#resolve()
    return true
  }

  promise (): Promise<void> { return this.#promise }
}
