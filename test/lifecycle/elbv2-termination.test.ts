// drainpipe's elbv2 observer end to end: the real AWS SDK inside a real drainpipe process,
// talking to the ELBv2 Query API emulator over HTTP.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { startElbv2Emulator } from '../../bench/rollout/elbv2/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }

t.test(
  'elbv2: serves while the target is healthy; once every target group says draining/unused, the lag bound runs from there',
  async (t) => {
    const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
    t.teardown(() => emu.close())
    const arnA = emu.createTargetGroup({ name: 'tg-a', port: 8080 })
    const arnB = emu.createTargetGroup({ name: 'tg-b', port: 8080 })
    emu.setTargetHealth(arnA, '10.0.1.23', 8080, 'healthy')
    emu.setTargetHealth(arnB, '10.0.1.23', 8080, 'healthy')

    const app = await startApp(t)
    const dp = await startDrainpipe(
      t,
      [
        '--upstream',
        `127.0.0.1:${app.port}`,
        '--deregistration',
        'elbv2',
        '--target-group-arn',
        arnA,
        '--target-group-arn',
        arnB,
        '--target-port',
        '8080',
        '--elbv2-endpoint',
        emu.url,
        '--elbv2-poll-interval',
        '0.1',
        '--lb-lag-max',
        '0.5',
      ],
      { env: { ...AWS_ENV, POD_IP: '10.0.1.23' } },
    )

    dp.proc.kill('SIGTERM')
    await dp.waitForLog((l) => l.to === 'terminating')
    await sleep(600)
    t.equal(dp.proc.exitCode, null, 'still serving while both groups say healthy')
    const res = await fetch(dp.url)
    t.equal(res.status, 200, 'traffic still forwarded during terminating')
    await res.text()

    emu.setTargetHealth(arnA, '10.0.1.23', 8080, 'draining', 'Target.DeregistrationInProgress')
    await sleep(600)
    t.equal(dp.proc.exitCode, null, 'one group draining is not enough: every group must agree')

    const changedAt = performance.now()
    emu.setTargetHealth(arnB, '10.0.1.23', 8080, 'unused', 'Target.NotRegistered')
    const exit = await dp.exited
    t.equal(exit.code, 0, 'exit 0')
    const took = performance.now() - changedAt
    t.ok(took >= 500 && took < 2500, `drained --lb-lag-max (0.5 s) after the last group said unused, not at once (${Math.round(took)} ms)`)
    const calls = emu.stats().calls.DescribeTargetHealth ?? 0
    t.ok(calls >= 4, `DescribeTargetHealth was polled (${calls} calls)`)
    const draining = dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')
    t.match(draining, { basis: 'lag-bound', reason: /--lb-lag-max passed since deregistration/ })
    t.ok((draining?.deregistrationSeenAfterSeconds as number) > 0, 'the log says when elbv2 saw the deregistration')
  },
)

t.test('--max-wait bounds the wait and names the observers still waiting', async (t) => {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const arn = emu.createTargetGroup({ name: 'tg-stuck', port: 8080 })
  emu.setTargetHealth(arn, '10.0.1.24', 8080, 'healthy')
  const app = await startApp(t)
  const dp = await startDrainpipe(
    t,
    [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--deregistration',
      'traffic,elbv2',
      '--quiet-period',
      '0.2',
      '--target-group-arn',
      arn,
      '--target-id',
      '10.0.1.24',
      '--target-port',
      '8080',
      '--elbv2-endpoint',
      emu.url,
      '--elbv2-poll-interval',
      '0.2',
      '--max-wait',
      '1',
    ],
    { env: AWS_ENV },
  )
  const started = performance.now()
  dp.proc.kill('SIGTERM')
  const exit = await dp.exited
  const took = (performance.now() - started) / 1000
  t.equal(exit.code, 3, 'exit 3: the wait ended at --max-wait, not by the observers')
  t.ok(took >= 1 && took < 3, `drained after --max-wait (${took.toFixed(2)} s)`)
  const warning = dp.logs.find((l) => Array.isArray(l.waitingFor))
  // elbv2 never saw the deregistration, so the lag clock never started: traffic, with no history
  // to judge by, cannot agree either.
  t.same(warning?.waitingFor, ['traffic', 'elbv2'], 'the warning names both: traffic waits for the lag clock elbv2 never started')
  t.equal(warning?.level, 40, 'logged as a warning')
  t.match(
    dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining'),
    { reason: '--max-wait reached' },
  )
})

t.test('--min-wait holds the drain even when observers agree at once', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--quiet-period', '0.1', '--min-wait', '1'])
  const started = performance.now()
  dp.proc.kill('SIGTERM')
  const exit = await dp.exited
  const took = (performance.now() - started) / 1000
  t.equal(exit.code, 0)
  t.ok(took >= 1, `waited at least --min-wait (${took.toFixed(2)} s)`)
})
