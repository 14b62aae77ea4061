// `drainpipe inject` / `uninject` as a user runs them: the real CLI in a child process, files and
// stdin, exit statuses, random per-workload tokens, flags as fleet defaults under annotations.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { parseAllDocuments } from 'yaml'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const CLI = path.resolve(HERE, '../../dist/cli.js')
const fixture = (name: string) => path.join(HERE, 'fixtures', name)

const drainpipe = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const tokensIn = (yaml: string) => [...yaml.matchAll(/DRAINPIPE_ADMIN_TOKEN\n\s+value: (\S+)/g)].map((m) => m[1]!)

t.test("files in, manifests out; one random token per workload, the same in the app's preStop", async (t) => {
  const r = drainpipe(['inject', fixture('named-port-deployment.yaml'), fixture('cronjob.yaml')])
  t.equal(r.code, 0, r.stderr)
  const tokens = tokensIn(r.stdout)
  t.equal(tokens.length, 2, 'two workloads, two tokens')
  t.not(tokens[0], tokens[1], 'tokens differ between workloads')
  for (const tok of tokens) {
    t.match(tok, /^[A-Za-z0-9_-]{32}$/, '24 random bytes, base64url')
    t.equal(r.stdout.split(`Bearer ${tok}`).length - 1, 2, "in the app's and drainpipe's preStop headers")
  }
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS())
  t.same(
    docs.map((d) => d.kind),
    ['Deployment', 'Service', 'Service', 'ConfigMap', 'CronJob'],
    'the files, in order, as one stream',
  )
  t.match(r.stderr, /note: Deployment web .*preStop .* replaced/)
  t.match(r.stderr, /note: CronJob nightly .*Services not in this input/)

  const again = drainpipe(['inject'], r.stdout)
  t.equal(again.code, 0)
  t.equal(again.stdout, r.stdout, 'from stdin, injecting again changes nothing: the tokens are kept')
  const back = drainpipe(['uninject', '-'], r.stdout)
  t.equal(back.code, 0)
  t.notMatch(back.stdout, /drainpipe\.io|name: drainpipe|prestop|DRAINPIPE_/, 'uninject leaves no trace')
})

t.test('a Service in another file is matched with the pods it selects', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'drainpipe-inject-'))
  const [deployment, ...rest] = readFileSync(fixture('named-port-deployment.yaml'), 'utf8').split(/^---\n/m)
  writeFileSync(path.join(dir, 'deployment.yaml'), deployment!)
  writeFileSync(path.join(dir, 'services.yaml'), rest.join('---\n'))
  const r = drainpipe(['inject', path.join(dir, 'deployment.yaml'), path.join(dir, 'services.yaml')])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /targetPort: 18080/, 'the numeric targetPort in the other file is rewritten')
  t.notMatch(r.stderr, /Services not in this input/, 'nothing left to report')
  t.same(
    parseAllDocuments(r.stdout).map((d) => d.toJS().kind),
    ['Deployment', 'Service', 'Service', 'ConfigMap'],
  )
})

t.test('flags are fleet defaults; a pod annotation wins', async (t) => {
  const r = drainpipe([
    'inject',
    '--mode',
    'tcp',
    '--sidecar=classic',
    '--image',
    'registry.example.com/drainpipe:9',
    fixture('numeric-port-statefulset.yaml'),
  ])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /DRAINPIPE_MODE\n\s+value: tcp/)
  t.match(r.stdout, /image: registry.example.com\/drainpipe:9/)
  t.notMatch(r.stdout, /restartPolicy: Always/, 'classic placement from the flag')
  const annotated = drainpipe(['inject', '--drain-timeout', '5', fixture('numeric-port-statefulset.yaml')])
  t.match(
    annotated.stdout,
    /DRAINPIPE_DRAIN_TIMEOUT\n\s+value: "60"/,
    'the annotation drainpipe.io/drain-timeout: "60" wins over --drain-timeout 5',
  )
})

t.test('a refused workload: exit 1, the reason, nothing on stdout', async (t) => {
  const input = readFileSync(new URL('../../k8s/base/deployment.yaml', import.meta.url), 'utf8')
  const r = drainpipe(['inject'], input)
  t.equal(r.code, 1)
  t.equal(r.stdout, '')
  t.match(r.stderr, /error: Deployment web \(stdin\): already has a container named drainpipe that inject did not add/)
  t.match(r.stderr, /nothing written/)
  const missing = drainpipe(['inject', '/nonexistent.yaml'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /\/nonexistent.yaml: no such file/)
})

t.test('a bad flag exits 2 naming it and what it accepts', async (t) => {
  const bad = drainpipe(['inject', '--sidecar', 'sideways'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /invalid --sidecar "sideways": expected one of native, classic/)
  const unknown = drainpipe(['inject', '--listen', '0.0.0.0:1'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown flag --listen/, 'inject derives --listen itself')
  t.equal(drainpipe(['uninject', '--mode', 'tcp']).code, 2, 'uninject takes no settings')
  t.match(drainpipe(['inject', '--max-wait', 'soon']).stderr, /invalid --max-wait "soon": expected seconds/)
})

t.test("--port is inject's own (the port to take over); drainpipe's --ports is not injected, and a ports value is refused", async (t) => {
  const named = drainpipe(['inject', '--port', 'http', fixture('named-port-deployment.yaml')])
  t.equal(named.code, 0, named.stderr)
  t.notMatch(named.stdout, /DRAINPIPE_PORTS/, 'no DRAINPIPE_PORTS in the injected container')
  const passed = drainpipe(['inject', '--ports', 'name=grpc,listen=0.0.0.0:9090', fixture('named-port-deployment.yaml')])
  t.equal(passed.code, 2, 'drainpipe --ports is not an inject setting')
  t.match(passed.stderr, /unknown flag --ports/)
  const several = drainpipe(['inject', '--port', 'name=grpc,listen=0.0.0.0:9090', fixture('named-port-deployment.yaml')])
  t.equal(several.code, 2)
  t.match(
    several.stderr,
    /invalid --port "name=grpc,listen=0\.0\.0\.0:9090": expected one container port name or number: inject takes over one port/,
  )
})

t.test("--help lists inject's settings", async (t) => {
  const r = drainpipe(['inject', '--help'])
  t.equal(r.code, 0)
  t.match(r.stdout, /--port NAME\|PORT/)
  t.match(r.stdout, /--sidecar native\|classic \(default native\)/)
  t.match(r.stdout, /--deregistration/)
})
