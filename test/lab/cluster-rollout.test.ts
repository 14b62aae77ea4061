// bench:cluster against loopback only, with trivial "rollout" commands.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../build/cluster-rollout/cli.js', import.meta.url))
const APP = fileURLToPath(new URL('../../examples/http-app.mjs', import.meta.url))

interface Teardown {
  teardown(fn: () => unknown): void
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

async function app(t: Teardown) {
  const child = spawn(process.execPath, [APP, '--host', '127.0.0.1', '--port', '0', '--name', 'cluster-test'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const [line] = (await once(child.stdout, 'data')) as [Buffer]
  const port = (JSON.parse(line.toString().split('\n')[0]!) as { address: { port: number } }).address.port
  return { child, port }
}

function summary(stdout: string) {
  const last = stdout.trim().split('\n').at(-1)!
  return (
    JSON.parse(last) as { strategies: Array<{ name: string; requests: number; failed: number; p99Ms: number; rolloutSeconds: number }> }
  ).strategies[0]!
}

t.test('a rollout that keeps the service up: requests, no failures, JSON summary', async (t) => {
  const { port } = await app(t)
  const r = await run(['--url', `http://127.0.0.1:${port}/`, '--command', 'sleep 0.5', '--warmup', '0.5', '--cooldown', '0.5', '--json'])
  t.equal(r.code, 0, r.stderr)
  const s = summary(r.stdout)
  t.equal(s.name, 'rollout')
  t.ok(s.requests > 0, `${s.requests} requests`)
  t.equal(s.failed, 0)
  t.ok(s.rolloutSeconds >= 0.5, `command ran ${s.rolloutSeconds} s`)
  t.match(r.stderr, /chart: .*rollout\.svg/)
})

t.test('a rollout that takes the service down: failures are counted', async (t) => {
  const { child, port } = await app(t)
  const r = await run([
    '--url',
    `http://127.0.0.1:${port}/`,
    '--command',
    `kill -TERM ${child.pid}`,
    '--warmup',
    '0.5',
    '--cooldown',
    '1',
    '--json',
  ])
  t.equal(r.code, 0, r.stderr)
  const s = summary(r.stdout)
  t.ok(s.failed > 0, `${s.failed} of ${s.requests} failed once the app stopped`)
  t.match(r.stderr, /failed requests per second/)
})

t.test("the command's failure is the exit status", async (t) => {
  const { port } = await app(t)
  const r = await run(['--url', `http://127.0.0.1:${port}/`, '--command', 'exit 3', '--warmup', '0', '--cooldown', '0'])
  t.equal(r.code, 1)
  t.match(r.stdout, /command exited 3/)
})

t.test('non-loopback targets are refused without --allow-remote; bad flags exit 2 naming them', async (t) => {
  const remote = await run(['--url', 'http://192.0.2.10/', '--command', 'true'])
  t.equal(remote.code, 2)
  t.match(remote.stderr, /--url 192\.0\.2\.10 is not a loopback address; pass --allow-remote/)
  const bad = await run(['--url', 'http://127.0.0.1:1/', '--command', 'true', '--cooldown', 'soon'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--cooldown must be a number/)
  const missing = await run(['--url', 'http://127.0.0.1:1/'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--command is required/)
})
