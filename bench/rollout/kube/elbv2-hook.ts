// The elbv2-only strategy's preStop: poll DescribeTargetHealth (real SDK, against the emulator,
// sharing the account's Describe* bucket) until this target is draining or unused, then return
// so the kubelet sends SIGTERM. What "the API says deregistered" is worth as a shutdown signal.
import { ElasticLoadBalancingV2Client, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2'

export interface Elbv2DrainingHook {
  endpoint: string
  targetGroupArn: string
  id: string
  port: number
  /** Simulated seconds between polls. */
  pollSeconds: number
}

export async function waitForDraining(hook: Elbv2DrainingHook, timeScale: number, deadline: number): Promise<string> {
  const client = new ElasticLoadBalancingV2Client({
    region: 'us-east-1',
    endpoint: hook.endpoint,
    credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' },
    maxAttempts: 3,
  })
  try {
    while (Date.now() < deadline) {
      const state = await client
        .send(new DescribeTargetHealthCommand({ TargetGroupArn: hook.targetGroupArn, Targets: [{ Id: hook.id, Port: hook.port }] }))
        .then(
          (r) => r.TargetHealthDescriptions?.[0]?.TargetHealth?.State ?? 'unknown',
          (err: Error) => `error ${err.name}`,
        )
      if (state === 'draining' || state === 'unused') return `saw ${state}`
      await new Promise((resolve) => setTimeout(resolve, hook.pollSeconds * 1000 * timeScale))
    }
    return 'deadline'
  } finally {
    client.destroy()
  }
}
