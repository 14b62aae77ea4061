// charts/drainpipe: `helm lint --strict` and `helm template` pass, every rendered object matches
// its Kubernetes schema exactly, the webhook's arguments are ones `drainpipe webhook` accepts,
// and the rendered certificate really serves: the rendered Deployment's command, run here with
// the rendered Secret, answers over TLS verified against the rendered caBundle.
// helm comes from scripts/install-helm.sh (CI runs it); without helm these tests skip, saying so.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from '../../src/inject/args.js'
import { parseYamlDocs, schemaErrors, type K8sObject } from '../ship/k8s-schema.js'
import { needs } from '../helpers/processes.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const CHART = path.join(ROOT, 'charts/drainpipe')
const CLI = path.join(ROOT, 'dist/cli.js')
const HELM = 'helm'
const helmMissing = needs('helm')

const helm = (...args: string[]) => spawnSync(HELM, args, { encoding: 'utf8', cwd: ROOT })
function render(...set: string[]): K8sObject[] {
  const r = helm('template', 'dp', CHART, '--namespace', 'drainpipe', ...set.flatMap((s) => ['--set', s]))
  if (r.status !== 0) throw new Error(`helm template: ${r.stderr}`)
  return parseYamlDocs(r.stdout, 'helm template') as K8sObject[]
}
const find = (objs: K8sObject[], kind: string) => objs.find((o) => o.kind === kind) as any
const WEBHOOK_FLAGS = ['webhook-listen', 'tls-cert', 'tls-key']
const CRDS = new Set(['Certificate', 'Issuer'])

t.test('helm lint --strict', { skip: helmMissing }, async (t) => {
  const r = helm('lint', '--strict', CHART)
  t.equal(r.status, 0, r.stdout + r.stderr)
})

t.test('helm template: objects valid, webhook set up as the issue asks', { skip: helmMissing }, async (t) => {
  const objs = render()
  t.same(objs.map((o) => o.kind).sort(), [
    'Deployment',
    'MutatingWebhookConfiguration',
    'PodDisruptionBudget',
    'Secret',
    'Service',
    'ServiceAccount',
  ])
  t.same(schemaErrors(objs.map((obj, i) => ({ source: `#${i} ${obj.kind}`, obj }))), [], 'every object matches its schema exactly')

  const deployment = find(objs, 'Deployment')
  t.equal(deployment.spec.replicas, 2, 'two replicas')
  const pod = deployment.spec.template.spec
  t.equal(pod.securityContext.runAsNonRoot, true, 'non-root')
  t.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true)
  t.equal(deployment.spec.template.metadata.annotations['drainpipe.io/inject'], 'false', 'never injected into itself')
  const args = pod.containers[0].args as string[]
  t.equal(args[0], 'webhook')
  const parsed = parseArgs(args.slice(1), WEBHOOK_FLAGS)
  t.same([...parsed.settings.keys()].sort(), ['image', 'sidecar'], 'the injected defaults are inject settings drainpipe accepts')
  t.equal(parsed.settings.get('image'), 'registry.example.com/drainpipe:0.1.0', "injected image defaults to the chart's")

  const pdb = find(objs, 'PodDisruptionBudget')
  t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB covers the webhook pods')
  const svc = find(objs, 'Service')
  t.same(svc.spec.selector, deployment.spec.selector.matchLabels)

  const mwc = find(objs, 'MutatingWebhookConfiguration')
  t.same(
    mwc.webhooks.map((w: any) => w.clientConfig.service.path),
    ['/mutate/namespace', '/mutate/annotated'],
  )
  for (const w of mwc.webhooks) {
    t.equal(w.failurePolicy, 'Ignore', `${w.name}: failurePolicy Ignore`)
    t.equal(w.reinvocationPolicy, 'IfNeeded', `${w.name}: reinvoked after other webhooks`)
    t.equal(w.clientConfig.service.name, svc.metadata.name)
    t.same(w.admissionReviewVersions, ['v1'])
  }
  t.same(mwc.webhooks[0].namespaceSelector, { matchLabels: { 'drainpipe.io/inject': 'enabled' } })

  const only = render(
    'webhook.podAnnotationOptIn=false',
    'inject.settings.mode=tcp',
    'inject.settings.max-wait=90',
    'inject.sidecar=classic',
  )
  t.equal(find(only, 'MutatingWebhookConfiguration').webhooks.length, 1, 'namespace labels only')
  const onlyArgs = parseArgs((find(only, 'Deployment').spec.template.spec.containers[0].args as string[]).slice(1), WEBHOOK_FLAGS)
  t.same(
    Object.fromEntries(onlyArgs.settings),
    { image: 'registry.example.com/drainpipe:0.1.0', sidecar: 'classic', mode: 'tcp', 'max-wait': '90' },
    'values.inject reaches the webhook as settings',
  )
  t.throws(
    () => parseArgs(['--sidecar=sideways']),
    /invalid --sidecar/,
    'a bad value in values.inject would stop the webhook at start (exit 2)',
  )
})

t.test('cert-manager mode: a Certificate, and the cainjector fills the caBundle', { skip: helmMissing }, async (t) => {
  const objs = render('certificates.mode=certManager')
  t.same(objs.map((o) => o.kind).sort(), [
    'Certificate',
    'Deployment',
    'Issuer',
    'MutatingWebhookConfiguration',
    'PodDisruptionBudget',
    'Service',
    'ServiceAccount',
  ])
  // cert-manager's kinds are CRDs that kubernetes-models does not carry: checked by hand below.
  t.same(schemaErrors(objs.filter((o) => !CRDS.has(o.kind)).map((obj, i) => ({ source: `#${i} ${obj.kind}`, obj }))), [])
  const cert = find(objs, 'Certificate')
  const mwc = find(objs, 'MutatingWebhookConfiguration')
  t.equal(mwc.metadata.annotations['cert-manager.io/inject-ca-from'], `drainpipe/${cert.metadata.name}`)
  t.equal(mwc.webhooks[0].clientConfig.caBundle, undefined)
  t.equal(
    cert.spec.secretName,
    find(objs, 'Deployment').spec.template.spec.volumes[0].secret.secretName,
    'the Certificate writes the Secret the webhook mounts',
  )
  t.ok(cert.spec.dnsNames.includes(`${find(objs, 'Service').metadata.name}.drainpipe.svc`))
  t.equal(cert.spec.issuerRef.name, find(objs, 'Issuer').metadata.name)
  const own = render(
    'certificates.mode=certManager',
    'certificates.certManager.issuerRef.name=corp',
    'certificates.certManager.issuerRef.kind=ClusterIssuer',
  )
  t.same(find(own, 'Certificate').spec.issuerRef, { kind: 'ClusterIssuer', name: 'corp' })
  t.notOk(find(own, 'Issuer'), 'no self-signed Issuer with an issuerRef')
  const bad = helm('template', 'dp', CHART, '--set', 'certificates.mode=byHand')
  t.not(bad.status, 0)
  t.match(bad.stderr, /certificates.mode must be generate or certManager/)
})

t.test(
  'the rendered Deployment runs: its command serves with the rendered Secret, trusted by the caBundle',
  { skip: helmMissing },
  async (t) => {
    const objs = render()
    const secret = find(objs, 'Secret')
    const mwc = find(objs, 'MutatingWebhookConfiguration')
    const svc = find(objs, 'Service')
    const dns = `${svc.metadata.name}.drainpipe.svc`
    const pem = (k: string) => Buffer.from(secret.data[k], 'base64')
    const ca = Buffer.from(mwc.webhooks[0].clientConfig.caBundle, 'base64')
    const cert = new X509Certificate(pem('tls.crt'))
    t.ok(
      cert.checkIssued(new X509Certificate(ca)) && cert.verify(new X509Certificate(ca).publicKey),
      'the caBundle signed the serving certificate',
    )
    t.match(cert.subjectAltName ?? '', new RegExp(`DNS:${dns.replace(/\./g, '\\.')}`), 'it names the Service')
    t.ok(cert.checkPrivateKey(createPrivateKey(pem('tls.key'))), "the key is the certificate's")

    const dir = mkdtempSync(path.join(tmpdir(), 'drainpipe-chart-'))
    writeFileSync(path.join(dir, 'tls.crt'), pem('tls.crt'))
    writeFileSync(path.join(dir, 'tls.key'), pem('tls.key'))
    const args = (find(objs, 'Deployment').spec.template.spec.containers[0].args as string[]).map((a) =>
      a.replace('/tls/', `${dir}/`).replace(/^--webhook-listen=.*/, '--webhook-listen=127.0.0.1:0'),
    )
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    t.teardown(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    })
    let stderr = ''
    const port = await new Promise<number>((resolve, reject) => {
      proc.stderr!.setEncoding('utf8')
      proc.stderr!.on('data', (c: string) => {
        stderr += c
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
        if (m) resolve(Number(m[1]))
      })
      proc.on('exit', () => reject(new Error(`webhook exited: ${stderr}`)))
    })
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/healthz', ca, servername: dns }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
        .on('error', reject)
        .end()
    })
    t.equal(status, 200, '/healthz over TLS, verified as the API server would')
    proc.kill('SIGTERM')
  },
)
