// Configuration through the real binary: every invalid value of every option kind exits 2
// with one stderr line naming the flag, the value and what is accepted; environment twins;
// POD_IP; --help generated from OPTIONS; --version; cross-checks between options.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { OPTIONS, parseConfig, ConfigError, type OptionSpec } from '../../src/config.js'
import { ROOT, runCli, startDrainpipe } from '../helpers/processes.js'

// Invalid values by what the option takes (its placeholder). A new placeholder without an
// entry here fails the suite, so every option kind keeps a row.
const INVALID_BY_PLACEHOLDER: Record<string, string[]> = {
  'HOST:PORT': ['', 'localhost', '127.0.0.1:65536', '127.0.0.1:-1', '::1:80', '[::1]', '[not-v6]:80', 'bad host:80'],
  SECONDS: ['', 'abc', '-1', '5h', '1e3', '1,5', '.'],
  'SECONDS|auto': ['', 'automatic', '-5', 'AUTO'],
  'CIDR,...': ['10.0.0.0/33', 'not-an-ip', '::1/129', '10.0.0.0/8,300.0.0.0/8'],
  URL: ['', 'ftp://example.com', 'not a url'],
  ARN: ['arn:aws:s3:::bucket', 'targetgroup/tg/123'],
  IP: [''],
  REGION: [''],
  TOKEN: [''],
  PORT: ['', '0', '65536', 'http', '80.5'],
  'traffic[,elbv2][,healthcheck]': ['', ',', 'traffic,dns', 'Traffic'],
  NAME: ['', '-web', 'a/b', 'two words', 'x'.repeat(64)],
  'name=NAME,listen=HOST:PORT[,KEY=VALUE...]': [
    '',
    ';',
    'name=grpc',
    'grpc',
    'listen=:9090,bogus=1',
    'listen=:9090,Mode=tcp',
    'listen=localhost',
    'listen=:9090,listen=:9091',
    'listen=:9090,mode=udp',
    'listen=:9090,name=a/b',
    'listen=:9090,trusted-proxies=10.0.0.0/8,300.0.0.0/8',
    'listen=:9090,upstream-proxy-protocol=v3',
    'name=a,listen=:9090;name=b',
  ],
}
// Numeric options whose placeholder (N, BYTES) does not tell the range.
const INVALID_BY_FLAG: Record<string, string[]> = {
  'max-connections': ['', 'x', '-1', '1.5', '0x10', '10000001'],
  'proxy-header-max-bytes': ['', '231', '65552', '4k', '0x1000'],
  'healthcheck-silence-multiple': ['', 'x', '0', '0.5', '101', '0x10', '0b11', 'Infinity', '5 5'],
  'lb-rate-drop': ['', 'x', '0', '0.5', '101', '0x10', 'Infinity'],
}

function invalidValues(o: OptionSpec): string[] {
  if (INVALID_BY_FLAG[o.flag]) return INVALID_BY_FLAG[o.flag]!
  if (INVALID_BY_PLACEHOLDER[o.placeholder]) return INVALID_BY_PLACEHOLDER[o.placeholder]!
  if (/^[a-z0-9-]+(\|[a-z0-9-]+)+$/.test(o.placeholder)) {
    const first = o.placeholder.split('|')[0]!
    return ['', 'bogus', first.toUpperCase(), ` ${first}`]
  }
  if (o.flag === 'log-level') return ['', 'verbose', 'INFO']
  return []
}

/** Runs `fn` over items with at most `n` at once (child processes on a 2-core machine). */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

/** parseConfig's error message for args, or 'accepted'. */
function rejection(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(args, env)
    return 'accepted'
  } catch (err) {
    return err instanceof ConfigError ? err.message : `not a ConfigError: ${(err as Error).message}`
  }
}

const ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/0123456789abcdef'

const MISUSE: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
  [['--listn', '127.0.0.1:1'], {}, /^unknown flag --listn /],
  [['listen'], {}, /^unexpected argument "listen"/],
  [['-x'], {}, /^unexpected argument "-x"/],
  [['--mode'], {}, /^--mode needs a value: http\|tcp$/],
  [['--mode', '--xff', 'append'], {}, /^--mode needs a value/],
  [['--mode', 'tcp', '--mode', 'http'], {}, /^--mode given more than once$/],
  // cross-checks between options
  [['--deregistration', 'traffic,elbv2', '--target-id', '10.0.0.1'], {}, /--deregistration elbv2 needs --target-group-arn/],
  [['--deregistration', 'elbv2', '--target-group-arn', ARN], {}, /--deregistration elbv2 needs --target-id or \$POD_IP/],
  [['--quiet-period-min', '10', '--quiet-period-max', '5'], {}, /--quiet-period-min: 10 s is above --quiet-period-max 5 s/],
  [['--min-wait', '3m', '--max-wait', '60'], {}, /--min-wait: 180 s is above --max-wait 60 s/],
  [['--upstream-proxy-protocol', 'v2'], {}, /--upstream-proxy-protocol works in --mode tcp only/],
  [['--mode', 'http', '--upstream-proxy-protocol', 'v1'], {}, /--upstream-proxy-protocol works in --mode tcp only/],
  [['--listen', '127.0.0.1:9100', '--admin', '127.0.0.1:9100'], {}, /--admin: port 9100 is also the --listen port/],
  // several ports: names and listen ports their own, per-port options checked like the global ones
  [['--listen', ':8080', '--ports', 'listen=:8080'], {}, /^invalid --ports name=8080: port name "8080" is also the name of --listen/],
  [
    ['--ports', 'name=a,listen=:9090', '--ports', 'name=a,listen=:9091'],
    {},
    /^invalid --ports name=a: port name "a" is also the name of an earlier --ports; expected a name of its own/,
  ],
  [
    ['--port-name', 'web', '--ports', 'name=web,listen=:9090'],
    {},
    /^invalid --ports name=web: port name "web" is also the name of --listen/,
  ],
  [
    ['--ports', 'name=a,listen=:9090;name=b,listen=0.0.0.0:9090'],
    {},
    /^invalid --ports name=b: listen port 9090 is also the listen port of an earlier --ports; expected a port of its own/,
  ],
  [
    ['--listen', ':8080', '--ports', 'name=a,listen=127.0.0.1:8080'],
    {},
    /^invalid --ports name=a: listen port 8080 is also the listen port of --listen/,
  ],
  [['--ports', 'name=a,listen=:9901'], {}, /^invalid --admin: port 9901 is also the --ports name=a port/],
  [
    ['--ports', 'name=a,listen=:9090', '--health-check-listen', ':9090'],
    {},
    /^invalid --health-check-listen: port 9090 is also the --ports name=a port/,
  ],
  [
    ['--ports', 'name=a,listen=:9090,upstream-proxy-protocol=v2'],
    {},
    /^invalid --ports name=a: upstream-proxy-protocol v2 works in mode tcp only; expected mode=tcp/,
  ],
  [
    ['--mode', 'tcp', '--upstream-proxy-protocol', 'v2', '--ports', 'name=a,listen=:9090,mode=http'],
    {},
    /^invalid --ports name=a: upstream-proxy-protocol v2 works in mode tcp only/,
  ],
  [
    ['--deregistration', 'traffic,elbv2', '--target-group-arn', ARN, '--ports', 'name=a,listen=:9090'],
    { POD_IP: '10.0.0.1' },
    /^invalid --ports name=a: --deregistration elbv2 needs each port's target groups; expected target-group-arn=ARN on it$/,
  ],
]

t.test('every option kind has invalid values to try', async (t) => {
  for (const o of OPTIONS) t.ok(invalidValues(o).length > 0, `--${o.flag} (${o.placeholder}) has invalid values in this table`)
})

t.test('every default parses, and each env twin is DRAINPIPE_<FLAG>', async (t) => {
  for (const o of OPTIONS) {
    t.equal(o.env, `DRAINPIPE_${o.flag.toUpperCase().replace(/-/g, '_')}`, `--${o.flag} env twin`)
    if (o.default !== '') t.doesNotThrow(() => o.parse(o.default), `--${o.flag} default ${o.default} parses`)
  }
  const r = parseConfig([], {})
  t.equal(r.kind, 'config')
})

t.test('every invalid value is rejected with one line naming the flag, the value and what is accepted', async (t) => {
  // The whole table in-process: the same parser the binary runs.
  const failures: string[] = []
  for (const o of OPTIONS) {
    for (const value of invalidValues(o)) {
      try {
        parseConfig([`--${o.flag}=${value}`], {})
        failures.push(`--${o.flag}=${value} accepted`)
      } catch (err) {
        const m = (err as Error).message
        const shown = o.secret ? '(hidden)' : JSON.stringify(value)
        if (
          !(err instanceof ConfigError) ||
          err.code !== 'ERR_CONFIG_INVALID' ||
          m.includes('\n') ||
          !m.includes(`--${o.flag} ${shown}`) ||
          !/: expected \S/.test(m)
        ) {
          failures.push(`--${o.flag}=${value}: ${m}`)
        }
      }
    }
  }
  t.same(failures, [], 'no invalid value accepted, every message clear')
})

t.test('the binary exits 2 with that one line on stderr', async (t) => {
  // The table above runs in-process (the parser the binary runs); here one value per kind
  // of parser goes through the real binary (child processes are slow on a shared 2-core box).
  const flags = [
    'listen',
    'header-timeout',
    'mode',
    'trusted-proxies',
    'max-connections',
    'healthcheck-silence-multiple',
    'target-group-arn',
    'admin-token',
    'ports',
  ]
  const cases = flags.map((flag) => {
    const o = OPTIONS.find((x) => x.flag === flag)!
    return { o, value: invalidValues(o).find((v) => v !== '') ?? '' }
  })
  await pool(cases, 2, async ({ o, value }) => {
    const r = await runCli([`--${o.flag}=${value}`], { POD_IP: '' })
    const lines = r.stderr.split('\n').filter((l) => l !== '')
    const shown = o.secret ? '(hidden)' : JSON.stringify(value)
    t.equal(r.code, 2, `--${o.flag}=${value} exits 2`)
    t.equal(lines.length, 1, `--${o.flag}=${value}: one stderr line`)
    t.match(
      lines[0] ?? '',
      new RegExp(`^drainpipe: invalid --${o.flag} ${escapeRegExp(shown)}: expected \\S`),
      `--${o.flag}=${value}: names flag, value, what is accepted`,
    )
    t.equal(r.stdout, '', 'nothing on stdout')
  })
})

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

t.test('enum errors list every accepted value; secrets are never echoed', async (t) => {
  for (const o of OPTIONS) {
    if (!/^[a-z0-9-]+(\|[a-z0-9-]+)+$/.test(o.placeholder)) continue
    t.match(rejection([`--${o.flag}`, 'bogus']), new RegExp(`expected one of ${o.placeholder.split('|').join(', ')}$`), `--${o.flag}`)
  }
  const token = rejection(['--admin-token='])
  t.match(token, /--admin-token \(hidden\)/)
  t.equal(rejection([], { DRAINPIPE_ADMIN_TOKEN: 's3cret', DRAINPIPE_MODE: 'x' }).includes('s3cret'), false)
})

t.test('an invalid environment twin names the variable', async (t) => {
  const r = await runCli([], { DRAINPIPE_HEADER_TIMEOUT: 'soon' })
  t.equal(r.code, 2)
  t.equal(r.stderr.trim().split('\n').length, 1)
  t.match(r.stderr, /DRAINPIPE_HEADER_TIMEOUT "soon": expected seconds/)
  // In-process, every option's twin is read (and named) the same way.
  for (const o of OPTIONS) {
    const bad = invalidValues(o).find((v) => v !== '')
    if (bad === undefined) continue
    try {
      parseConfig([], { [o.env]: bad })
      t.fail(`${o.env}=${bad} accepted`)
    } catch (err) {
      t.ok(err instanceof ConfigError && err.message.includes(o.env), `${o.env}=${JSON.stringify(bad)} rejected naming ${o.env}`)
    }
  }
})

t.test('unknown flags, positional arguments, missing values, repeats and cross-checks are rejected naming the flags', async (t) => {
  for (const [args, env, re] of MISUSE) {
    const m = rejection(args, env)
    t.match(m, re, args.join(' '))
    t.notOk(m.includes('\n'), `${args.join(' ')}: one line`)
  }
  // What passes the cross-checks: elbv2 with an ARN and POD_IP, upstream PROXY in tcp mode.
  t.equal(rejection(['--deregistration', 'elbv2', '--target-group-arn', ARN], { POD_IP: '10.0.0.1' }), 'accepted')
  t.equal(rejection(['--mode', 'tcp', '--upstream-proxy-protocol', 'v2']), 'accepted')
})

t.test('the binary exits 2 on an unknown flag and on a failed cross-check', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--listn', '127.0.0.1:1'], /^drainpipe: unknown flag --listn/],
    [
      ['--quiet-period-min', '10', '--quiet-period-max', '5'],
      /^drainpipe: invalid --quiet-period-min: 10 s is above --quiet-period-max 5 s$/,
    ],
    [['--deregistration', 'elbv2'], /^drainpipe: --deregistration elbv2 needs --target-group-arn/],
    [['--upstream-proxy-protocol', 'v2'], /^drainpipe: --upstream-proxy-protocol works in --mode tcp only/],
    [['--ports', 'name=a,listen=:9090', '--ports', 'name=a,listen=:9091'], /^drainpipe: invalid --ports name=a: port name "a" is also/],
  ]
  await pool(cases, 2, async ([args, re]) => {
    const r = await runCli(args, { POD_IP: '' })
    t.equal(r.code, 2, `${args.join(' ')} exits 2`)
    const lines = r.stderr.split('\n').filter((l) => l !== '')
    t.equal(lines.length, 1, `${args.join(' ')}: one stderr line`)
    t.match(lines[0] ?? '', re)
  })
})

t.test('environment twins are used, the flag wins, POD_IP fills --target-id', async (t) => {
  const configOf = async (args: string[], env: NodeJS.ProcessEnv) => {
    const dp = await startDrainpipe(t, ['--upstream', '127.0.0.1:1', ...args], { env, waitReady: false })
    const line = await dp.waitForLog((l) => l.msg === 'starting')
    dp.proc.kill('SIGKILL')
    return line.config as Record<string, unknown>
  }
  const fromEnv = await configOf([], {
    DRAINPIPE_MODE: 'tcp',
    DRAINPIPE_XFF: 'append',
    DRAINPIPE_HEADER_TIMEOUT: '250ms',
    POD_IP: '10.1.2.3',
  })
  t.equal(fromEnv.mode, 'tcp', 'DRAINPIPE_MODE used')
  t.equal(fromEnv.xff, 'append', 'DRAINPIPE_XFF used')
  t.equal(fromEnv.headerTimeoutMs, 250, 'DRAINPIPE_HEADER_TIMEOUT used, with its unit')
  t.equal(fromEnv.targetId, '10.1.2.3', 'POD_IP fills --target-id')

  const flagWins = await configOf(['--mode', 'http', '--header-timeout', '2', '--target-id', '10.9.9.9'], {
    DRAINPIPE_MODE: 'tcp',
    DRAINPIPE_HEADER_TIMEOUT: '250ms',
    DRAINPIPE_TARGET_ID: '10.5.5.5',
    POD_IP: '10.1.2.3',
  })
  t.equal(flagWins.mode, 'http', '--mode wins over DRAINPIPE_MODE')
  t.equal(flagWins.headerTimeoutMs, 2000, '--header-timeout wins over its twin')
  t.equal(flagWins.targetId, '10.9.9.9', '--target-id wins over DRAINPIPE_TARGET_ID and POD_IP')

  const twinOverPodIp = parseConfig([], { DRAINPIPE_TARGET_ID: '10.5.5.5', POD_IP: '10.1.2.3' })
  t.ok(twinOverPodIp.kind === 'config' && twinOverPodIp.config.targetId === '10.5.5.5', 'DRAINPIPE_TARGET_ID wins over POD_IP')

  const defaults = parseConfig([], { POD_IP: '' })
  t.ok(
    defaults.kind === 'config' &&
      defaults.config.mode === 'http' &&
      defaults.config.headerTimeoutMs === 60_000 &&
      defaults.config.targetId === undefined,
    'defaults without twins or POD_IP',
  )
})

t.test('several ports: --ports repeated or ;-separated in DRAINPIPE_PORTS, each key defaulting to its flag', async (t) => {
  const { podPorts } = await import('../../src/config.js')
  const portsOf = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = parseConfig(args, env)
    if (r.kind !== 'config') throw new Error(r.kind)
    return podPorts(r.config)
  }
  const single = portsOf(['--listen', '0.0.0.0:8080', '--upstream', '127.0.0.1:3000'])
  t.same(
    single.map((p) => [p.name, p.listen.port, p.upstream.port, p.mode]),
    [['8080', 8080, 3000, 'http']],
    'no --ports: the single-port flags are the only port, named by its port number',
  )
  const args = [
    '--listen',
    ':8080',
    '--port-name',
    'http',
    '--mode',
    'http',
    '--proxy-protocol',
    'required',
    '--ports',
    'name=grpc,listen=:9090,upstream=127.0.0.1:9091',
    '--ports',
    'listen=:8443,upstream=127.0.0.1:8444,mode=tcp,proxy-protocol=off,trusted-proxies=10.0.0.0/8,fc00::/7',
  ]
  const several = portsOf(args)
  t.same(
    several.map((p) => [p.name, p.listen.port, p.upstream.port, p.mode, p.proxyProtocol, p.trustedProxies.length]),
    [
      ['http', 8080, 3000, 'http', 'required', 7],
      ['grpc', 9090, 9091, 'http', 'required', 7],
      ['8443', 8443, 8444, 'tcp', 'off', 2],
    ],
    'keys not given take the global flag; names default to the listen port; a list keeps its commas',
  )
  t.same(several[2]!.trustedProxies, ['10.0.0.0/8', 'fc00::/7'])
  const env = {
    DRAINPIPE_PORT_NAME: 'http',
    DRAINPIPE_PORTS: 'name=grpc, listen=:9090, upstream=127.0.0.1:9091 ; listen=:8443,upstream=127.0.0.1:8444,mode=tcp',
  }
  t.same(
    portsOf(['--listen', ':8080'], env).map((p) => [p.name, p.listen.port, p.mode]),
    [
      ['http', 8080, 'http'],
      ['grpc', 9090, 'http'],
      ['8443', 8443, 'tcp'],
    ],
    "DRAINPIPE_PORTS holds every extra port, separated by ';'",
  )
  t.same(
    portsOf(['--listen', ':8080', '--ports', 'name=only,listen=:7070'], env).map((p) => p.name),
    ['http', 'only'],
    '--ports given replaces DRAINPIPE_PORTS, as every flag wins over its twin',
  )
  const { portFlags } = await import('../../src/config/ports.js')
  const help = OPTIONS.find((o) => o.flag === 'ports')!.help
  for (const flag of portFlags()) t.ok(help.includes(flag), `--ports's help names the key ${flag}`)
  const apiArn = ARN.replace('/tg/', '/api/')
  const elbv2 = portsOf(['--listen', ':8080', '--target-group-arn', ARN, '--ports', `name=api,listen=:9090,target-group-arn=${apiArn}`], {
    POD_IP: '10.0.0.1',
  })
  t.same(
    elbv2.map((p) => [p.name, p.targetGroupArns, p.targetPort]),
    [
      ['8080', [ARN], 8080],
      ['api', [apiArn], 9090],
    ],
    "target-group-arn and target-port are a port's own: not inherited, the target port its listen port",
  )
  // HTTP/2 to the app is a port's own choice: an h2c gRPC port next to an HTTP/1.1 web port.
  t.same(
    portsOf(['--listen', ':8080', '--ports', 'name=grpc,listen=:9090,upstream=127.0.0.1:9091,upstream-protocol=h2c']).map((p) => [
      p.name,
      p.upstreamProtocol,
    ]),
    [
      ['8080', 'h1'],
      ['grpc', 'h2c'],
    ],
    'upstream-protocol= per port',
  )
  t.throws(
    () => parseConfig(['--listen', ':8080', '--ports', 'name=db,listen=:5432,mode=tcp,upstream-protocol=h2c']),
    { flag: 'ports', message: /invalid --ports name=db: upstream-protocol h2c works in mode http only/ },
    'h2c on a tcp port is refused naming the port',
  )
  // A grace for a connection age that is off does nothing: said at start-up.
  const graceOnly = parseConfig(['--http2-max-connection-age-grace', '30'])
  t.same(
    graceOnly.kind === 'config' ? graceOnly.warnings : null,
    ['--http2-max-connection-age-grace has no effect without --http2-max-connection-age (off)'],
    'a grace without an age is a start-up warning',
  )
  // The binary: a bad --ports exits 2 naming the flag, the value and what a port takes.
  const r = await runCli(['--ports', 'name=grpc,listen=:9090,mode=h2'], { POD_IP: '' })
  t.equal(r.code, 2)
  t.match(
    r.stderr,
    /^drainpipe: invalid --ports "name=grpc,listen=:9090,mode=h2": expected mode= one of http, tcp \(a port is KEY=VALUE pairs separated by ',', ports by ';', with listen= required; keys: name, listen, upstream, mode, proxy-protocol, trusted-proxies, upstream-proxy-protocol, upstream-protocol, forwarded-proto, xff, target-group-arn, target-port\)\n$/,
  )
})

t.test('--help lists every option from OPTIONS with its default', async (t) => {
  const r = await runCli(['--help'])
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  const lines = r.stdout.split('\n')
  for (const o of OPTIONS) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${o.flag} `))
    if (!line) {
      t.fail(`--${o.flag} missing from --help`)
      continue
    }
    t.ok(line.includes(o.placeholder), `--${o.flag} shows ${o.placeholder}`)
    if (o.default !== '') t.ok(line.includes(`(default ${o.default})`), `--${o.flag} shows its default ${o.default}`)
    // The help text itself follows, wrapped: its first words are there.
    t.ok(r.stdout.replace(/\s+/g, ' ').includes(o.help.split(' ').slice(0, 6).join(' ')), `--${o.flag} help text`)
  }
  // Defaults that come from elsewhere are named, not left blank.
  t.match(
    lines.find((l) => l.includes('--target-id ')),
    /\(default \$POD_IP\)/,
  )
  t.match(
    lines.find((l) => l.includes('--target-port ')),
    /\(default the --listen port\)/,
  )
  t.match(r.stdout, /--version/)
  t.equal(parseConfig(['-h'], {}).kind, 'help', '-h is --help')
  t.equal(parseConfig(['--mode', 'bogus', '--help'], {}).kind, 'help', '--help after other flags still asks for help')
})

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const r = await runCli(['--version'])
  t.equal(r.code, 0)
  t.equal(r.stdout, `${pkg.version}\n`)
  t.equal(r.stderr, '')
})

t.test('a port that cannot be bound exits 1 with a fatal log line naming the cause', async (t) => {
  const { createServer } = await import('node:net')
  const busy = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => busy.once('listening', r))
  t.teardown(() => {
    busy.close()
  })
  const port = (busy.address() as { port: number }).port
  for (const args of [
    ['--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0'],
    ['--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`],
  ]) {
    const r = await runCli([...args, '--upstream', '127.0.0.1:1'])
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`)
    const fatal = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } })
      .find((l) => l.level === 60)
    t.equal(fatal?.msg, 'could not start')
    t.match(fatal?.err?.message, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`), 'the cause, with the address')
  }
})
