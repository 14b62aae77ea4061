// The admission webhook as the API server uses it: `drainpipe webhook` in a child process, real
// AdmissionReview v1 requests over HTTPS verified against the CA that signed its certificate
// (made here with openssl, as the chart's caBundle would be). The returned JSON Patch, applied by
// an independent RFC 6902 implementation, gives exactly what `drainpipe inject` gives.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastJsonPatch from 'fast-json-patch'
import { parse } from 'yaml'
import { deepEqual } from '../../src/inject/json-patch.js'
import { run, schemaProblems } from './run-inject.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const CLI = path.resolve(HERE, '../../dist/cli.js')
const SERVICE_DNS = 'drainpipe-webhook.drainpipe.svc'

const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0

function makeCerts(dir: string) {
  const ossl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  }
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=drainpipe-test-ca',
  )
  ossl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'tls.csr',
    '-subj',
    `/CN=${SERVICE_DNS}`,
  )
  writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=DNS:${SERVICE_DNS}\nextendedKeyUsage=serverAuth\n`)
  ossl(
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tls.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  )
  return { ca: readFileSync(path.join(dir, 'ca.crt')), cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }
}

interface Answer {
  status: number
  body: any
}

function post(port: number, ca: Buffer, route: string, body: unknown): Promise<Answer> {
  const text = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: route,
        method: 'POST',
        ca,
        servername: SERVICE_DNS,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (data += c))
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }))
      },
    )
    req.on('error', reject)
    req.end(text)
  })
}

const reviewOf = (pod: unknown, uid: string) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'shop',
    operation: 'CREATE',
    object: pod,
  },
})

const patched = (pod: unknown, response: any) => {
  if (!response.patch) return pod
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'))
  return fastJsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument
}

t.test(
  'AdmissionReview over HTTPS: the patch gives what inject gives',
  { skip: hasOpenssl ? false : 'openssl is not installed: no certificate for the webhook' },
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'drainpipe-webhook-'))
    const { ca, cert, key } = makeCerts(dir)
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'webhook',
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--webhook-listen',
        '127.0.0.1:0',
        '--image',
        'registry.example.com/drainpipe:0.1.0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
    t.teardown(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    })
    let stderr = ''
    const port = await new Promise<number>((resolve, reject) => {
      proc.stderr.setEncoding('utf8')
      proc.stderr.on('data', (c: string) => {
        stderr += c
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
        if (m) resolve(Number(m[1]))
      })
      proc.on('exit', () => reject(new Error(`webhook exited: ${stderr}`)))
    })

    const fixture = readFileSync(path.join(HERE, 'fixtures/pod.yaml'), 'utf8')
    const pod = parse(fixture)
    const given = new Map([['image', 'registry.example.com/drainpipe:0.1.0']])

    const first = await post(port, ca, '/mutate/annotated', reviewOf(pod, 'uid-1'))
    t.equal(first.status, 200)
    t.equal(first.body.apiVersion, 'admission.k8s.io/v1')
    t.equal(first.body.kind, 'AdmissionReview')
    t.equal(first.body.response.uid, 'uid-1')
    t.equal(first.body.response.allowed, true)
    t.equal(first.body.response.patchType, 'JSONPatch')
    const result = patched(pod, first.body.response) as any
    const token = result.spec.initContainers[0].env.find((e: any) => e.name === 'DRAINPIPE_ADMIN_TOKEN').value as string
    t.match(token, /^[A-Za-z0-9_-]{32}$/, 'a random token')
    const cli = run(fixture, 'pod.yaml', 'inject', { given, newToken: () => token })
    t.ok(deepEqual(result, cli.docs[0]), "patched pod === drainpipe inject's output (same settings, same token)")
    t.same(schemaProblems([result], 'patched pod'), [], 'the patched pod matches the Pod schema exactly')
    t.same(
      first.body.response.warnings,
      [`drainpipe: ${cli.notes[0]!.replace(' (pod.yaml)', '')}`],
      'what inject says on stderr comes back as a warning',
    )

    // Reinvocation (reinvocationPolicy: IfNeeded): an injected pod gets no patch, keeps its token.
    const again = await post(port, ca, '/mutate/annotated', reviewOf(result, 'uid-2'))
    t.equal(again.body.response.allowed, true)
    t.equal(again.body.response.patch, undefined, 'an injected pod comes back unchanged')

    // Selection: annotated route needs the annotation; namespace route injects unless the pod opts out.
    const plain = structuredClone(pod)
    delete plain.metadata.annotations['drainpipe.io/inject']
    t.equal(
      (await post(port, ca, '/mutate/annotated', reviewOf(plain, 'uid-3'))).body.response.patch,
      undefined,
      'not annotated: unchanged',
    )
    const viaNamespace = await post(port, ca, '/mutate/namespace', reviewOf(plain, 'uid-4'))
    t.equal(viaNamespace.body.response.patchType, 'JSONPatch', 'namespace label: injected without the annotation')
    const optOut = structuredClone(pod)
    optOut.metadata.annotations['drainpipe.io/inject'] = 'false'
    t.equal(
      (await post(port, ca, '/mutate/namespace', reviewOf(optOut, 'uid-5'))).body.response.patch,
      undefined,
      'drainpipe.io/inject: "false" opts a pod out',
    )

    // A pod inject refuses is admitted unchanged, with the reason.
    const hooked = structuredClone(pod)
    hooked.spec.containers[0].lifecycle = { preStop: { exec: { command: ['/bin/flush'] } } }
    const refused = await post(port, ca, '/mutate/annotated', reviewOf(hooked, 'uid-6'))
    t.equal(refused.body.response.allowed, true)
    t.equal(refused.body.response.patch, undefined)
    t.match(refused.body.response.warnings[0], /^drainpipe: not injected: Pod one-off: container app already has a preStop hook/)
    t.ok(refused.body.response.warnings[0].length <= 256, 'warnings fit what the API server shows')

    const bad = await post(port, ca, '/mutate/annotated', { kind: 'Nope' })
    t.equal(bad.status, 400)
    t.match(bad.body.error, /admission.k8s.io\/v1 AdmissionReview/)

    proc.kill('SIGTERM')
    t.equal(await exited, 0, 'SIGTERM: stops serving, exits 0')
  },
)

t.test('the webhook needs its certificate', async (t) => {
  const r = spawnSync(process.execPath, [CLI, 'webhook'], { encoding: 'utf8', timeout: 10_000 })
  t.equal(r.status, 2)
  t.match(r.stderr, /--tls-cert FILE is required/)
})
