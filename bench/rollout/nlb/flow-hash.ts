// NLB routing is per flow: a hash of the 5-tuple picks one target among those eligible,
// so every new TCP connection may land on a different target, and a connection stays on
// its target for its whole life. FNV-1a over the tuple's text: stable and cheap.
export interface FlowTuple {
  sourceAddress: string
  sourcePort: number
  destinationAddress: string
  destinationPort: number
}

export function flowHash(flow: FlowTuple): number {
  let h = 0x811c9dc5
  const text = `${flow.sourceAddress}|${flow.sourcePort}|${flow.destinationAddress}|${flow.destinationPort}|tcp`
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Pick one of `choices` (order matters: callers sort them) for this flow. */
export function pickByHash<T>(flow: FlowTuple, choices: readonly T[]): T | undefined {
  if (choices.length === 0) return undefined
  return choices[flowHash(flow) % choices.length]
}
