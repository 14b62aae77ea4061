// drainpipe inject over realistic manifests, compared with golden files (UPDATE_GOLDEN=1 rewrites
// them): every output is valid Kubernetes (unknown fields rejected), its drainpipe settings are
// what the real config parser accepts and agree with the pod spec, injecting again changes
// nothing, and uninject gives the input back.
import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { deepEqual } from '../../src/inject/json-patch.js'
import { readInput } from '../../src/inject/yaml-io.js'
import { injectedPods, run, schemaProblems, tokens } from './run-inject.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const FIXTURES = path.join(HERE, 'fixtures')
const GOLDEN = path.join(HERE, 'golden')
const update = process.env.UPDATE_GOLDEN === '1'

const cases = readdirSync(FIXTURES)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort()

function golden(name: string, actual: string): string {
  const file = path.join(GOLDEN, name)
  if (update) writeFileSync(file, actual)
  return readFileSync(file, 'utf8')
}

for (const file of cases) {
  t.test(file, async (t) => {
    const text = readFileSync(path.join(FIXTURES, file), 'utf8')
    const out = run(text, file)
    t.same(out.errors, [], 'injected without errors')
    const ext = path.extname(file)
    t.equal(out.text, golden(file.replace(ext, `.injected${ext}`), out.text), 'output is the golden file')
    t.equal(`${out.notes.join('\n')}\n`, golden(file.replace(ext, '.notes.txt'), `${out.notes.join('\n')}\n`), 'notes are the golden file')

    t.same(schemaProblems(out.docs, file), [], 'every object matches its Kubernetes schema exactly')

    const pods = injectedPods(out.docs)
    t.ok(pods.length >= 1, `${pods.length} injected pod templates`)
    for (const p of pods) {
      t.same(p.warnings, [], `${p.what}: drainpipe starts without warnings`)
      t.equal(p.config.gracePeriodMs, p.grace * 1000, `${p.what}: --grace-period is terminationGracePeriodSeconds`)
      t.ok(
        p.grace * 1000 >= p.config.maxWaitMs + p.config.drainTimeoutMs + 10_000,
        `${p.what}: ${p.grace} s covers --max-wait + --drain-timeout + 10 s`,
      )
      const portNamed = (n: string) => p.drainpipe.ports!.find((x) => x.name === n)?.containerPort
      // The LB-facing port: declared in spec.containers, where every resolver of named ports looks
      // (on the app container when drainpipe is a native sidecar, see lbPortOwner).
      const declaredBy = p.native ? p.app : p.drainpipe
      t.equal(
        declaredBy.ports!.find((x) => x.containerPort === p.config.listen.port)?.containerPort,
        p.config.listen.port,
        `${p.what}: --listen is declared on ${p.native ? 'the app container' : 'drainpipe'}`,
      )
      if (p.native) t.equal(p.drainpipe.ports!.length, 1, `${p.what}: the native sidecar declares only its admin port`)
      t.equal(portNamed('dp-admin'), p.config.admin.port, `${p.what}: dp-admin is --admin`)
      t.equal(p.config.upstream.host, '127.0.0.1')
      t.ok(p.app, `${p.what}: the app container keeps the --upstream port`)
      const hook = p.app.lifecycle.preStop.httpGet
      t.same(
        hook,
        { path: '/prestop', port: p.config.admin.port, httpHeaders: [{ name: 'Authorization', value: `Bearer ${p.config.adminToken}` }] },
        `${p.what}: the app's preStop calls /prestop with drainpipe's token`,
      )
      t.ok(p.config.adminToken && p.config.adminToken.length >= 32, `${p.what}: a token is set`)
      t.equal(p.drainpipe.restartPolicy, p.native ? 'Always' : undefined, `${p.what}: ${p.native ? 'native' : 'classic'} sidecar`)
    }

    // Idempotent: the output injected again (fresh tokens on offer) is the output.
    const again = run(out.text, file, 'inject', { newToken: tokens('other') })
    t.same(again.errors, [])
    t.equal(again.text, out.text, 'injecting the output again changes nothing (tokens kept)')
    t.same(
      again.notes.filter((n) => !n.includes('Services not in this input')),
      [],
      'and reports no change',
    )

    // Inverse: uninject gives back the input's objects; documents inject did not change, byte for byte.
    const back = run(out.text, file, 'uninject')
    t.same(back.errors, [])
    t.ok(deepEqual(back.docs, readInput(text, file).docs), 'uninject(inject(x)) is x, object for object')
    t.equal(run(text, file, 'uninject').text, text, 'uninject of a never-injected input is the input, byte for byte')
  })
}

t.test('a newer drainpipe updates its own container and nothing else', async (t) => {
  const text = readFileSync(path.join(FIXTURES, 'named-port-deployment.yaml'), 'utf8')
  const v1 = run(text, 'in', 'inject', { version: '0.1.0' })
  const v2 = run(v1.text, 'in', 'inject', { version: '0.2.0', newToken: tokens('other') })
  const changed = v1.text
    .split('\n')
    .map((l, i) => [l, v2.text.split('\n')[i]])
    .filter(([a, b]) => a !== b)
  t.same(
    changed,
    [
      ['        drainpipe.io/injected: 0.1.0', '        drainpipe.io/injected: 0.2.0'],
      ['          image: drainpipe:0.1.0', '          image: drainpipe:0.2.0'],
    ],
    'the version annotation and the default image; the token stays',
  )
})

t.test('untouched documents keep their bytes; changed ones keep comments', async (t) => {
  const text = readFileSync(path.join(FIXTURES, 'named-port-deployment.yaml'), 'utf8')
  const out = run(text, 'in').text
  t.ok(out.endsWith(text.slice(text.indexOf('# Not a workload'))), 'the ConfigMap document is byte for byte')
  t.match(out, /^# Named port, a probe by that name/, 'the leading comment stays')
  t.match(out, /- name: app # the app\n/, 'a comment inside a changed document stays')
})
