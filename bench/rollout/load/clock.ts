// The open-loop loads' clock, in one place: arrivals scheduled at simulated offsets (scaled to
// wall-clock by the lab's time scale) whatever the server does, the work in flight tracked, and
// a stop that cancels what is scheduled and waits for what is in flight. A harness stall delays
// an arrival (the next ones catch up), never drops it.

export interface SimulatedClock {
  /** Simulated seconds → wall-clock ms. */
  wallMs(simSeconds: number): number
  /** Run `fire` at simulated offsets, each `next()` after the one before (the first after the start). */
  every(next: () => number, fire: () => void): void
  /** Run `fire` after `simSeconds`, unless stopped by then. */
  after(simSeconds: number, fire: () => void): void
  /** Count `work` as in flight until it settles; returns it. */
  track(work: Promise<void>): Promise<void>
  readonly stopping: boolean
  /** No more arrivals; resolves once the work in flight settled. */
  stop(): Promise<void>
}

export function simulatedClock(timeScale: number): SimulatedClock {
  const inFlight = new Set<Promise<void>>()
  const timers = new Set<NodeJS.Timeout>()
  let stopping = false
  const wallMs = (simSeconds: number): number => simSeconds * 1000 * timeScale
  const at = (wall: number, fire: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!stopping) fire()
    }, wall)
    timers.add(timer)
  }
  return {
    wallMs,
    every(next, fire) {
      const start = Date.now()
      let offset = 0
      const step = (): void => {
        if (stopping) return
        offset += next()
        at(Math.max(0, start + wallMs(offset) - Date.now()), () => {
          fire()
          step()
        })
      }
      step()
    },
    after(simSeconds, fire) {
      if (!stopping) at(wallMs(simSeconds), fire)
    },
    track(work) {
      inFlight.add(work)
      void work.then(() => inFlight.delete(work))
      return work
    },
    get stopping() {
      return stopping
    },
    async stop() {
      stopping = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      while (inFlight.size > 0) await Promise.all([...inFlight])
    },
  }
}
