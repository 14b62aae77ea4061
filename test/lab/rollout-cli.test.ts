// bench:rollout's flags: parsing, --help, and exit 2 naming a bad flag (the full run is in
// rollout.test.ts and the demo).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseCliArgs, UsageError } from '../../bench/rollout/options.js'
import { DEFAULTS } from '../../bench/rollout/scenario.js'
import { NAMED } from '../../bench/rollout/model/distribution.js'

const CLI = fileURLToPath(new URL('../../build/rollout/cli.js', import.meta.url))

t.test('flags set the lab options; defaults are the AWS values', async (t) => {
  const d = parseCliArgs([])
  t.same(d.strategies, ['none', 'sleep-30', 'sleep-90', 'sleep-130', 'sleep-180', 'elbv2-only', 'drainpipe', 'drainpipe+elbv2'])
  t.equal(d.lab.lag, 'field')
  t.equal(NAMED.field, '90-150:0.85,150-180:0.15')
  t.equal(d.lab.crossZone, false)
  t.equal(d.lab.healthChecksWhileDraining, true)
  t.equal(d.lab.deregistrationTermination, false)
  t.same(d.lab.drainpipe, {}, 'drainpipe runs with its own defaults, scaled')
  t.equal(d.lab.deregistrationDelaySeconds, 300)
  t.equal(d.lab.describeBurst, 40)
  t.equal(d.lab.describeRefillPerSecond, 10)
  const o = parseCliArgs([
    '--pods',
    '5',
    '--time-scale=0.1',
    '--lag',
    '60-90',
    '--strategies',
    'none,drainpipe-native,sleep-130',
    '--readiness-gate',
    'off',
    '--hc-protocol',
    'http',
    '--json',
    '--load',
    'keepalive',
    '--cross-zone',
    'on',
    '--drainpipe-max-wait',
    '300',
    '--seed',
    '9',
    '--drainpipe',
    '/tmp/old/cli.js',
  ])
  t.equal(o.lab.replicas, 5)
  t.equal(o.lab.timeScale, 0.1)
  t.equal(o.lab.lag, '60-90')
  t.same(o.strategies, ['none', 'drainpipe-native', 'sleep-130'])
  t.equal(o.lab.load, 'keepalive')
  t.equal(o.lab.crossZone, true)
  t.equal(o.lab.drainpipe.maxWait, 300)
  t.equal(o.lab.seed, 9)
  t.equal(o.lab.drainpipePath, '/tmp/old/cli.js')
  t.equal(o.lab.readinessGate, false)
  t.equal(o.lab.healthCheckProtocol, 'HTTP')
  t.ok(o.json)
  t.equal(DEFAULTS.lag, 'field', 'defaults untouched')
  t.same(DEFAULTS.drainpipe, {}, 'nested defaults untouched')
})

t.test('bad input names the flag', async (t) => {
  const cases: Array<[string[], string, RegExp]> = [
    [['--pods', '0'], 'pods', /--pods must be a whole number from 1 to 50, got "0"/],
    [['--pods', '2.5'], 'pods', /whole number/],
    [['--time-scale', 'fast'], 'time-scale', /--time-scale must be a number/],
    [['--strategies', 'none,yolo'], 'strategies', /unknown strategy "yolo"/],
    [['--lag'], 'lag', /--lag needs a value/],
    [['--lag', '150-90'], 'lag', /--lag: range 150-90 runs backwards/],
    [['--load', 'heavy'], 'load', /--load must be closed, poisson, bursty, keepalive or grpc/],
    [['--cross-zone', 'yes'], 'cross-zone', /--cross-zone must be on or off/],
    [['--drainpipe-max-wait', 'long'], 'drainpipe-max-wait', /must be a number from 0 to 3600/],
    [['--strategies', 'sleep-x'], 'strategies', /unknown strategy "sleep-x"/],
    [['--frobnicate', '1'], 'frobnicate', /unknown flag --frobnicate/],
    [['--max-surge', '0', '--max-unavailable', '0'], 'max-surge', /cannot both be 0/],
  ]
  for (const [argv, flag, message] of cases) {
    const err = (() => {
      try {
        parseCliArgs(argv)
        return undefined
      } catch (e) {
        return e
      }
    })()
    t.ok(err instanceof UsageError, argv.join(' '))
    t.equal((err as UsageError).flag, flag)
    t.match((err as UsageError).message, message)
  }
})

t.test('the binary: --help exits 0, a bad flag exits 2 and says which', async (t) => {
  const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', timeout: 20_000 })
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: npm run bench:rollout -- \[flags\]/)
  t.match(help.stdout, /--time-scale N/)
  const bad = spawnSync(process.execPath, [CLI, '--pods', 'many'], { encoding: 'utf8', timeout: 20_000 })
  t.equal(bad.status, 2)
  t.match(bad.stderr, /^bench:rollout: --pods must be a whole number/)
  t.equal(bad.stdout, '')
})
