// A Deployment's rolling update, as the deployment controller runs it: surge new pods up to
// replicas + maxSurge, scale old pods down only while at least replicas - maxUnavailable pods
// are Ready (unready old pods go first). Terminating pods do not count (Kubernetes' default).
import type { Pod } from './pod.js'

export interface DeploymentOptions {
  replicas: number
  maxSurge: number
  maxUnavailable: number
  createPod: (revision: number) => Pod
}

export class Deployment {
  readonly pods: Pod[] = []
  revision = 1
  readonly terminations: Array<Promise<void>> = []

  constructor(readonly opts: DeploymentOptions) {
    if (opts.maxSurge === 0 && opts.maxUnavailable === 0) throw new RangeError('maxSurge and maxUnavailable cannot both be 0')
  }

  active(): Pod[] {
    return this.pods.filter((p) => p.phase === 'running')
  }
  terminating(): Pod[] {
    return this.pods.filter((p) => p.phase === 'terminating')
  }
  readyCount(): number {
    return this.active().filter((p) => p.ready).length
  }

  /** Create the first revision's pods. */
  scaleUp(): void {
    while (this.active().length < this.opts.replicas) this.spawn()
  }

  /** A new revision (kubectl rollout restart): returns when the update is complete. */
  async rollout(timeoutMs: number, onTick?: () => void): Promise<boolean> {
    this.revision++
    const end = Date.now() + timeoutMs
    while (Date.now() < end) {
      if (this.step()) return true
      onTick?.()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return false
  }

  /** One pass of the deployment controller; true when the rollout is complete. */
  step(): boolean {
    const { replicas, maxSurge, maxUnavailable } = this.opts
    const active = this.active()
    const current = active.filter((p) => p.revision === this.revision)
    const old = active.filter((p) => p.revision !== this.revision)
    let total = active.length
    for (let n = current.length; n < replicas && total < replicas + maxSurge; n++, total++) this.spawn()
    let canRemove = this.readyCount() - (replicas - maxUnavailable)
    for (const pod of [...old.filter((p) => !p.ready), ...old.filter((p) => p.ready)]) {
      if (!pod.ready) {
        this.terminate(pod)
        continue
      }
      if (canRemove <= 0) break
      this.terminate(pod)
      canRemove--
    }
    return old.length === 0 && current.length === replicas && current.every((p) => p.ready)
  }

  private spawn(): void {
    this.pods.push(this.opts.createPod(this.revision))
  }

  private terminate(pod: Pod): void {
    this.terminations.push(pod.terminate())
  }
}
