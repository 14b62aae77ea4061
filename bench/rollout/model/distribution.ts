// A duration distribution, in simulated seconds, written as a flag value:
//
//   120                 always 120
//   30-90               uniform between 30 and 90
//   90-150:0.85,150-200:0.15
//                       a mixture: pick a part by weight, then uniform within it
//   field               the NLB deregistration lag fitted to field reports: mostly 90–150 s,
//                       15% in a tail to 180 s (aws-load-balancer-controller#2366, istio#35964 up to
//                       180 s, aws-node-termination-handler#316 "2–3 minutes")
import type { Random } from './random.js'

export interface Part {
  min: number
  max: number
  weight: number
}

export interface Distribution {
  readonly spec: string
  readonly parts: readonly Part[]
  sample(random: Random): number
  /** The largest value it can draw. */
  readonly max: number
  readonly min: number
}

export const NAMED: Record<string, string> = {
  field: '90-150:0.85,150-180:0.15',
}

export function parseDistribution(text: string): Distribution {
  const spec = text.trim()
  const body = NAMED[spec] ?? spec
  const parts: Part[] = []
  for (const piece of body.split(',')) {
    const m = /^\s*(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?(?::(\d+(?:\.\d+)?))?\s*$/.exec(piece)
    if (m === null)
      throw new RangeError(`not a duration distribution: ${JSON.stringify(text)} (N, A-B, A-B:W,C-D:W or ${Object.keys(NAMED).join('|')})`)
    const min = Number(m[1])
    const max = m[2] === undefined ? min : Number(m[2])
    const weight = m[3] === undefined ? 1 : Number(m[3])
    if (max < min) throw new RangeError(`range ${piece.trim()} runs backwards`)
    if (!(weight > 0)) throw new RangeError(`weight of ${piece.trim()} must be above 0`)
    parts.push({ min, max, weight })
  }
  const total = parts.reduce((a, p) => a + p.weight, 0)
  return {
    spec,
    parts,
    max: Math.max(...parts.map((p) => p.max)),
    min: Math.min(...parts.map((p) => p.min)),
    sample(random) {
      let pick = random() * total
      let part = parts[parts.length - 1]!
      for (const p of parts) {
        if (pick < p.weight) {
          part = p
          break
        }
        pick -= p.weight
      }
      return part.min + random() * (part.max - part.min)
    },
  }
}
