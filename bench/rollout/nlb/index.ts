// NLB data-plane simulator for the rollout lab. See ./nlb.ts.
export { Nlb, startNlb } from './nlb.js'
export type { NlbOptions, NlbStats, ResetReason } from './nlb.js'
export type { LbNode } from './health-checker.js'
export { clientHeader, localHeader, NLB_HEADER_BYTES } from './proxy-header.js'
export { flowHash, pickByHash } from './flow-hash.js'
