// The load balancer controller model against the emulator, through the real SDK: registration
// with the readiness gate (once the pod's containers are ready), deregistration on termination,
// and API throttling delaying it.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { startElbv2Emulator, type Elbv2EmulatorOptions } from '../../bench/rollout/elbv2/index.js'
import { LoadBalancerController } from '../../bench/rollout/kube/controller.js'
import { Pod } from '../../bench/rollout/kube/pod.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

// A pod without containers: the controller only sees its IP, readiness and termination.
function pod(ip: string, readiness = { host: ip, port: 1, path: '/' }): Pod {
  return new Pod(
    `pod-${ip}`,
    ip,
    1,
    {
      containers: [],
      readiness,
      readinessGate: true,
      gracePeriodSeconds: 30,
      readinessPeriodSeconds: 10,
    },
    1,
  )
}

async function setup(t: Teardown, opts: Elbv2EmulatorOptions) {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0, ...opts })
  const arn = emu.createTargetGroup({ name: 'tg', port: 8080 })
  const controller = new LoadBalancerController({
    endpoint: emu.url,
    targetGroupArn: arn,
    targetPort: 8080,
    timeScale: 0.01,
    readinessGate: true,
  })
  t.teardown(async () => {
    await controller.stop()
    await emu.close()
  })
  return { emu, arn, group: emu.targetGroup(arn), controller }
}

async function until(what: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!what() && Date.now() < end) await sleep(10)
  return what()
}

t.test('registers a new pod, opens its readiness gate once healthy, deregisters it on termination', async (t) => {
  const { group, controller } = await setup(t, {})
  const p = pod('10.0.0.7')
  p.containersReady = true
  controller.watch(p)
  t.ok(await until(() => group.get('10.0.0.7', 8080) !== undefined), 'registered before it is Ready (readiness gate)')
  t.equal(group.get('10.0.0.7', 8080)!.health.state, 'initial')
  t.notOk(p.gateReady)
  group.setHealth('10.0.0.7', 8080, 'healthy')
  t.ok(await until(() => p.gateReady), 'gate opened after the target turned healthy')
  void p.terminate()
  t.ok(
    await until(() => group.get('10.0.0.7', 8080)?.health.state === 'draining' || group.get('10.0.0.7', 8080) === undefined),
    'deregistered',
  )
  // The emulator changes state when DeregisterTargets arrives; the controller counts the call
  // when its answer comes back, a moment later.
  t.ok(await until(() => controller.stats.deregistered > 0), 'the controller saw the call succeed')
  t.equal(controller.stats.deregistered, 1)
  t.equal(controller.stats.deregistrationLatencyMs.length, 1)
})

t.test('with the readiness gate, a pod is registered only once its containers are ready (its probes pass)', async (t) => {
  // The LBC skips a not-ready endpoint whose pod is not ContainersReady: a pod still starting
  // is no target, so an NLB failing open to every unhealthy target cannot send it connections
  // its port would refuse. The probe is real: HTTP to a port nothing listens on yet.
  const app = http.createServer((_req, res) => res.end('ok'))
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  const port = (app.address() as AddressInfo).port
  await new Promise<void>((resolve) => app.close(() => resolve()))
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())))
  const { group, controller } = await setup(t, {})
  const p = pod('10.0.0.9', { host: '127.0.0.1', port, path: '/' })
  t.teardown(() => p.kill())
  p.start()
  controller.watch(p)
  // A reconcile and a gate poll (15 s × 0.01) with the probe failing.
  t.ok(await until(() => controller.stats.reconciles >= 3), 'the controller reconciled and polled')
  t.notOk(p.containersReady, 'the probe fails: nothing listens')
  t.equal(group.get('10.0.0.9', 8080), undefined, 'not registered while its containers are not ready')
  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', resolve))
  t.ok(await until(() => p.containersReady), 'the probe passes')
  t.ok(await until(() => group.get('10.0.0.9', 8080) !== undefined), 'registered on the next gate poll')
  t.notOk(p.ready, 'before it is Ready: the gate waits for the target to turn healthy')
})

t.test('a throttled Describe* bucket delays deregistration', async (t) => {
  // One Describe token, one more per second (timeScale 1 for the API).
  const { emu, arn, group, controller } = await setup(t, { describeBurst: 1, describeRefillPerSecond: 1 })
  const p = pod('10.0.0.8')
  group.setHealth('10.0.0.8', 8080, 'healthy')
  p.gateReady = true
  // Someone else (another pod polling) takes the token just before the termination.
  const other = new ElasticLoadBalancingV2Client({
    region: 'us-east-1',
    endpoint: emu.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
  })
  t.teardown(() => other.destroy())
  await sleep(1100)
  await other.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))
  const emptied = Date.now()
  controller.watch(p)
  void p.terminate()
  t.ok(await until(() => group.get('10.0.0.8', 8080)?.health.state === 'draining'), 'deregistered in the end')
  t.ok((emu.stats().throttled.DescribeTargetHealth ?? 0) >= 1, 'the controller was throttled and retried')
  t.ok(Date.now() - emptied >= 900, 'not before the bucket refilled')
})
