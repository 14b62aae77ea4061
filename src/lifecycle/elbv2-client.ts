// The ELBv2 API client, in one place: the SDK is loaded on first use (most pods never call the
// API, and the module is the largest drainpipe has), and every client makes one attempt per call
// (maxAttempts 1): the callers own their retries, backoff and per-call timeouts.
import type { ElasticLoadBalancingV2Client, ElasticLoadBalancingV2ClientConfig } from '@aws-sdk/client-elastic-load-balancing-v2'

export type Elbv2Sdk = typeof import('@aws-sdk/client-elastic-load-balancing-v2')

export interface Elbv2ClientOptions {
  region?: string | undefined
  /** An ELBv2-compatible endpoint (tests, the lab's emulator, a VPC endpoint). */
  endpoint?: string | undefined
  credentials?: ElasticLoadBalancingV2ClientConfig['credentials'] | undefined
}

export interface LoadedElbv2 {
  sdk: Elbv2Sdk
  client: ElasticLoadBalancingV2Client
}

/** Loads the SDK and builds a client (or wraps the one given). */
export async function loadElbv2(o: Elbv2ClientOptions, given?: ElasticLoadBalancingV2Client): Promise<LoadedElbv2> {
  const sdk = await import('@aws-sdk/client-elastic-load-balancing-v2')
  const client =
    given ??
    new sdk.ElasticLoadBalancingV2Client({
      ...(o.region !== undefined ? { region: o.region } : {}),
      ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
      ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
      maxAttempts: 1,
    })
  return { sdk, client }
}
