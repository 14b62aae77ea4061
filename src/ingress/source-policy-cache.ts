// The trust decision for a connection's source address, remembered per address. Behind a
// load balancer nearly every connection comes from one of a handful of LB node addresses,
// and deciding from scratch (a BlockList check, which builds a SocketAddress) costs more
// than the rest of classifying a connection. The decision depends only on the address and
// the static --trusted-proxies/--proxy-protocol configuration, so a cached answer is the
// same answer. Bounded: past `max` distinct addresses the cache starts over.
import type { SourcePolicy } from '../proxy-protocol/policy.js'

/** Distinct source addresses remembered before the cache is cleared. */
export const SOURCE_POLICY_CACHE_MAX = 4096

export function cachedSourcePolicy(
  decide: (remoteAddress: string) => SourcePolicy,
  max = SOURCE_POLICY_CACHE_MAX,
): (remoteAddress: string) => SourcePolicy {
  const seen = new Map<string, SourcePolicy>()
  return (remote) => {
    let policy = seen.get(remote)
    if (policy === undefined) {
      policy = decide(remote)
      if (seen.size >= max) seen.clear()
      seen.set(remote, policy)
    }
    return policy
  }
}
