// The ELBv2 emulator against the real AWS SDK v3 client over HTTP.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ElasticLoadBalancingV2Client,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  DeregisterTargetsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { startElbv2Emulator, type Elbv2EmulatorOptions } from '../../bench/rollout/elbv2/index.js'
import { TokenBucket } from '../../bench/rollout/elbv2/token-bucket.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

async function setup(t: Teardown, opts: Elbv2EmulatorOptions = {}, maxAttempts?: number) {
  const emu = await startElbv2Emulator(opts)
  const client = new ElasticLoadBalancingV2Client({
    region: 'us-east-1',
    endpoint: emu.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  })
  t.teardown(async () => {
    client.destroy()
    await emu.close()
  })
  return { emu, client }
}

async function stateOf(client: ElasticLoadBalancingV2Client, arn: string, id: string, port: number) {
  const out = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: id, Port: port }] }))
  const h = out.TargetHealthDescriptions?.[0]?.TargetHealth
  return { state: h?.State, reason: h?.Reason, description: h?.Description }
}

t.test('healthy → draining → unused after the scaled deregistration delay', async (t) => {
  // timeScale 0.01: 300 s delay → 3 s; consistency lag 20 ms.
  const { emu, client } = await setup(t, { timeScale: 0.01 })
  const arn = emu.createTargetGroup({ name: 'web', port: 8080 })
  await client.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '10.0.1.23', Port: 8080 }] }))
  await sleep(50)
  t.same(await stateOf(client, arn, '10.0.1.23', 8080), {
    state: 'initial',
    reason: 'Elb.RegistrationInProgress',
    description: 'Target registration is in progress',
  })
  emu.setTargetHealth(arn, '10.0.1.23', 8080, 'healthy')
  await sleep(50)
  t.same(await stateOf(client, arn, '10.0.1.23', 8080), { state: 'healthy', reason: undefined, description: undefined })

  const deregisteredAt = Date.now()
  await client.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '10.0.1.23', Port: 8080 }] }))
  await sleep(50)
  t.same(await stateOf(client, arn, '10.0.1.23', 8080), {
    state: 'draining',
    reason: 'Target.DeregistrationInProgress',
    description: 'Target deregistration is in progress',
  })

  let last = await stateOf(client, arn, '10.0.1.23', 8080)
  while (last.state === 'draining' && Date.now() - deregisteredAt < 10_000) {
    await sleep(100)
    last = await stateOf(client, arn, '10.0.1.23', 8080)
  }
  t.same(last, { state: 'unused', reason: 'Target.NotRegistered', description: 'Target is not registered to the target group' })
  t.ok(Date.now() - deregisteredAt >= 3000, 'not unused before the deregistration delay')
  // Listing every target no longer shows it.
  const all = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))
  t.same(all.TargetHealthDescriptions, [])
  t.equal(emu.stats().calls.DeregisterTargets, 1)
})

t.test('an unknown target is unused / Target.NotRegistered', async (t) => {
  const { emu, client } = await setup(t)
  const arn = emu.createTargetGroup({ name: 'web', port: 80 })
  t.same(await stateOf(client, arn, '10.9.9.9', 80), {
    state: 'unused',
    reason: 'Target.NotRegistered',
    description: 'Target is not registered to the target group',
  })
})

t.test('Describe sees changes only after the consistency lag', async (t) => {
  const { emu, client } = await setup(t, { consistencyLagMs: 400 })
  const arn = emu.createTargetGroup({ name: 'web', port: 80 })
  emu.setTargetHealth(arn, '10.0.0.1', 80, 'healthy')
  t.equal((await stateOf(client, arn, '10.0.0.1', 80)).state, 'unused', 'registration not visible yet')
  await sleep(500)
  t.equal((await stateOf(client, arn, '10.0.0.1', 80)).state, 'healthy')
  await client.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '10.0.0.1', Port: 80 }] }))
  t.equal((await stateOf(client, arn, '10.0.0.1', 80)).state, 'healthy', 'deregistration not visible yet')
  await sleep(500)
  t.equal((await stateOf(client, arn, '10.0.0.1', 80)).state, 'draining')
})

t.test('a burst is throttled and the SDK retries Throttling', async (t) => {
  // 5-call burst, 20/s refill; 30 concurrent calls: more than the bucket can admit at once.
  const { emu, client } = await setup(t, { describeBurst: 5, describeRefillPerSecond: 20 }, 10)
  const arn = emu.createTargetGroup({ name: 'web', port: 80 })
  const started = Date.now()
  const results = await Promise.allSettled(
    Array.from({ length: 30 }, () => client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))),
  )
  const elapsedSeconds = (Date.now() - started) / 1000
  const ok = results.filter((r) => r.status === 'fulfilled').length
  const { calls, throttled } = emu.stats()
  // How many calls the bucket admitted is bounded by its burst plus what it refilled while the
  // calls ran, however slowly a loaded machine sent them; the rest were throttled.
  const admitted = (calls.DescribeTargetHealth ?? 0) - (throttled.DescribeTargetHealth ?? 0)
  t.ok((throttled.DescribeTargetHealth ?? 0) > 0, `a burst of 30 against a bucket of 5 was throttled (${throttled.DescribeTargetHealth})`)
  t.ok(
    admitted <= 5 + Math.ceil(20 * elapsedSeconds),
    `the bucket admitted ${admitted}: at most its burst of 5 plus 20/s over ${elapsedSeconds.toFixed(2)} s`,
  )
  t.equal(
    calls.DescribeTargetHealth,
    30 + (throttled.DescribeTargetHealth ?? 0) - (30 - ok),
    'every throttled call that succeeded was retried by the SDK',
  )
  t.ok(ok > 5, `${ok}/30 succeeded, more than the burst, thanks to retries`)
})

t.test('default SDK retry: a Throttling answer is retried, and surfaces as Throttling when retries run out', async (t) => {
  // A bucket that never refills in the test's lifetime: 1 token, 1 per 1000 s.
  const { emu, client } = await setup(t, { describeBurst: 1, describeRefillPerSecond: 0.001 })
  const arn = emu.createTargetGroup({ name: 'web', port: 80 })
  await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))
  const err = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })).then(
    () => null,
    (e: unknown) => e,
  )
  t.match(err, { name: 'Throttling', message: 'Rate exceeded', $metadata: { httpStatusCode: 400, attempts: 3 } })
  t.equal(emu.stats().throttled.DescribeTargetHealth, 3, 'SDK default: 3 attempts')
  // Mutating calls use their own bucket.
  await client.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '10.0.0.2' }] }))
  t.pass('RegisterTargets not affected by the Describe bucket')
})

t.test('XML error envelope and unknown action, over raw HTTP', async (t) => {
  const { emu } = await setup(t, { consistencyLagMs: 0 })
  const post = async (body: string) => {
    const res = await fetch(`${emu.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    return { status: res.status, text: await res.text(), requestId: res.headers.get('x-amzn-requestid') }
  }
  const unknown = await post('Action=DeleteEverything&Version=2015-12-01')
  t.equal(unknown.status, 400)
  t.match(
    unknown.text,
    /^<ErrorResponse><Error><Type>Sender<\/Type><Code>InvalidAction<\/Code><Message>Could not find operation DeleteEverything for version 2015-12-01<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
  )
  const missing = await post(
    'Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0',
  )
  t.equal(missing.status, 400)
  t.match(missing.text, /<Code>TargetGroupNotFound<\/Code>/)
  const arn = emu.createTargetGroup({ name: 'web', port: 8080 })
  emu.setTargetHealth(arn, '10.0.1.23', 8080, 'healthy')
  const ok = await post(
    `Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=${encodeURIComponent(arn)}&Targets.member.1.Id=10.0.1.23&Targets.member.1.Port=8080`,
  )
  t.equal(ok.status, 200)
  t.equal(
    ok.text,
    '<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>10.0.1.23</Id><Port>8080</Port></Target><HealthCheckPort>8080</HealthCheckPort><TargetHealth><State>healthy</State></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult>' +
      `<ResponseMetadata><RequestId>${ok.requestId}</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`,
  )
})

t.test('target group description and attributes through the SDK', async (t) => {
  const { emu, client } = await setup(t)
  const arn = emu.createTargetGroup({ name: 'web', port: 8080, deregistrationDelaySeconds: 45 })
  const groups = await client.send(new DescribeTargetGroupsCommand({ Names: ['web'] }))
  t.match(groups.TargetGroups, [
    { TargetGroupArn: arn, TargetGroupName: 'web', Port: 8080, Protocol: 'TCP', TargetType: 'ip', HealthCheckIntervalSeconds: 10 },
  ])
  const attrs = await client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }))
  t.ok(attrs.Attributes?.some((a) => a.Key === 'deregistration_delay.timeout_seconds' && a.Value === '45'))
  await client.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: arn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '0' }],
    }),
  )
  t.equal(emu.targetGroup(arn).attribute('deregistration_delay.timeout_seconds'), '0')
  const bad = await client
    .send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: [{ Key: 'no.such', Value: '1' }] }))
    .then(
      () => null,
      (e: unknown) => e,
    )
  t.match(bad, { name: 'ValidationError' })
})

t.test('token bucket refill is scaled by timeScale', async (t) => {
  let now = 0
  const bucket = new TokenBucket({ burst: 2, refillPerSecond: 10, timeScale: 0.1, now: () => now })
  t.ok(bucket.take())
  t.ok(bucket.take())
  t.notOk(bucket.take())
  now += 10 // 10 ms wall-clock = 100 ms simulated = 1 token
  t.ok(bucket.take())
  t.notOk(bucket.take())
})
