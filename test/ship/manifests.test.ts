// What users copy into their clusters: every YAML under k8s/ and examples/ is a valid Kubernetes
// object (unknown fields fail), every kustomization renders, and the drainpipe options the
// manifests set are ones drainpipe's own parser accepts, with values that fit together.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { OPTIONS, parseConfig, podPorts, type Config } from '../../src/config.js'
import { graceBudget } from '../../src/lifecycle/grace-budget.js'
import { neededDrainingIntervalSeconds } from '../../src/lifecycle/fast-lane/attributes.js'
import { parseYamlDocs, readYamlDocs, schemaErrors, type Checked, type K8sObject } from './k8s-schema.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const rel = (p: string) => path.relative(ROOT, p)

function walk(dir: string): string[] {
  let out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) out = out.concat(walk(p))
    else out.push(p)
  }
  return out.sort()
}

const yamlFiles = ['k8s', 'examples'].flatMap((d) => walk(path.join(ROOT, d))).filter((f) => /\.ya?ml$/.test(f))
const kustomizationFiles = yamlFiles.filter((f) => path.basename(f) === 'kustomization.yaml')
const kustomizeDirs = kustomizationFiles.map((f) => path.dirname(f))

interface Kustomization {
  patches?: Array<{ path?: string }>
  resources?: string[]
}

/** Files a kustomization names under `patches: - path:` hold partial objects. */
const patchFiles = new Set(
  kustomizationFiles.flatMap((f) => {
    const k = readYamlDocs(f)[0] as Kustomization
    return (k.patches ?? []).flatMap((p) => (p.path ? [path.resolve(path.dirname(f), p.path)] : []))
  }),
)

function objectsOf(file: string): Checked[] {
  return readYamlDocs(file).map((obj, i, all) => ({
    source: all.length > 1 ? `${rel(file)}#${i}` : rel(file),
    obj: obj as K8sObject,
    partial: patchFiles.has(file),
  }))
}

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0
const kubectlMissing = hasKubectl ? false : 'kubectl is not installed: kustomizations cannot be rendered'

const renders = new Map<string, K8sObject[]>()
function render(dir: string): K8sObject[] {
  let objs = renders.get(dir)
  if (!objs) {
    const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    objs = parseYamlDocs(text, `kubectl kustomize ${rel(dir)}`) as K8sObject[]
    renders.set(dir, objs)
  }
  return objs
}

t.test('the layout is there', async (t) => {
  for (const d of ['base', 'native-sidecar', 'nlb-elbv2', 'alb-ingress', 'fast-lane', 'several-ports']) {
    t.ok(kustomizeDirs.includes(path.join(ROOT, 'k8s', d)), `k8s/${d} is a kustomization`)
  }
  t.ok(yamlFiles.length >= 12, `${yamlFiles.length} YAML files found`)
})

t.test('every YAML file parses, and every object in it matches its Kubernetes schema exactly', async (t) => {
  const items = yamlFiles.filter((f) => path.basename(f) !== 'kustomization.yaml').flatMap(objectsOf)
  t.ok(
    items.some((i) => i.partial),
    'patch files are checked too, as partial objects',
  )
  t.same(schemaErrors(items), [], `${items.length} objects`)
})

t.test('the schema check catches what the models let through', async (t) => {
  const deployment = readYamlDocs(path.join(ROOT, 'k8s/base/deployment.yaml'))[0] as K8sObject
  const clone = () => structuredClone(deployment) as any
  const misspelt = clone()
  misspelt.spec.template.spec.containers[1].readinesProbe = misspelt.spec.template.spec.containers[1].readinessProbe
  delete misspelt.spec.template.spec.containers[1].readinessProbe
  const misplaced = clone()
  misplaced.spec.template.spec.containers[0].lifecycle.preStop.httpGet.headers = [{ name: 'x', value: 'y' }]
  const wrongType = clone()
  wrongType.spec.replicas = 'three'
  const inPatch = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { template: { spec: { containers: [{ name: 'drainpipe', enviroment: [] }] } } },
  }

  // One batch, one TypeScript program: each object's errors are told apart by their source.
  const errors = schemaErrors([
    { source: 'misspelt', obj: misspelt },
    { source: 'misplaced', obj: misplaced },
    { source: 'wrong type', obj: wrongType },
    { source: 'patch', obj: inPatch as K8sObject, partial: true },
    { source: 'unknown kind', obj: { apiVersion: 'apps/v1', kind: 'Deploymint' } },
    { source: 'original', obj: deployment },
  ])
  const of = (source: string) => errors.filter((e) => e.startsWith(`${source}:`) || e.startsWith(`${source} (`)).join('\n')
  t.match(of('misspelt'), /readinesProbe/, 'a misspelt field')
  t.match(of('misplaced'), /headers/, 'a field at the wrong place')
  t.match(of('wrong type'), /replicas/, 'a value of the wrong type')
  t.match(of('patch'), /enviroment/, 'an unknown field in a patch')
  t.match(of('unknown kind'), /Deploymint/, 'an unknown kind')
  t.equal(of('original'), '', 'the unmodified object passes')
})

t.test('every kustomization renders, and the rendered objects match their schemas exactly', { skip: kubectlMissing }, async (t) => {
  for (const dir of kustomizeDirs) {
    const objs = render(dir)
    t.ok(objs.length > 0, `${rel(dir)} renders ${objs.length} objects`)
    t.same(
      schemaErrors(objs.map((obj, i) => ({ source: `${rel(dir)} rendered #${i} ${obj.kind}/${obj.metadata?.name}`, obj }))),
      [],
      `${rel(dir)}: rendered objects valid`,
    )
  }
})

interface Container {
  name: string
  image?: string
  args?: string[]
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>
  ports?: Array<{ name?: string; containerPort: number }>
  restartPolicy?: string
  lifecycle?: {
    preStop?: {
      httpGet?: { path: string; port: number | string; httpHeaders?: Array<{ name: string; value: string }> }
      exec?: unknown
      sleep?: unknown
    }
  }
  readinessProbe?: { httpGet?: { path: string; port: number | string } }
  livenessProbe?: { httpGet?: { path: string; port: number | string } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
}

const ENV_NAMES = new Set(OPTIONS.map((o) => o.env))
const isDrainpipe = (c: Container) => c.name === 'drainpipe'

/** drainpipe's argv and environment as a container gives them; downward-API values get a sample. */
function drainpipeInputs(c: Container): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {}
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[e.name] = '10.0.1.23'
  }
  return { argv: c.args ?? [], env }
}

t.test('drainpipe options in every YAML file are ones drainpipe accepts', async (t) => {
  let seen = 0
  for (const file of yamlFiles.filter((f) => path.basename(f) !== 'kustomization.yaml')) {
    for (const { obj, source } of objectsOf(file)) {
      const pod = (obj as any).spec?.template?.spec
      if (!pod) continue
      for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])] as Container[]) {
        if (!isDrainpipe(c)) continue
        seen++
        for (const e of c.env ?? []) {
          if (e.name.startsWith('DRAINPIPE_')) t.ok(ENV_NAMES.has(e.name), `${source}: ${e.name} is an option's environment twin`)
        }
        // Patches carry only some variables; alone they must still parse (on top of defaults).
        const { argv, env } = drainpipeInputs(c)
        if (env.DRAINPIPE_DEREGISTRATION?.includes('elbv2')) env.POD_IP ??= '10.0.1.23'
        t.doesNotThrow(() => parseConfig(argv, env), `${source}: parseConfig accepts ${JSON.stringify({ argv, env })}`)
      }
    }
  }
  t.ok(seen >= 3, `${seen} drainpipe containers checked`)
})

t.test('rendered pods: drainpipe configuration and the pod spec agree', { skip: kubectlMissing }, async (t) => {
  for (const dir of kustomizeDirs) {
    const name = rel(dir)
    const deployments = render(dir).filter((o) => o.kind === 'Deployment')
    t.equal(deployments.length, 1, `${name}: one Deployment`)
    const pod = (deployments[0] as any).spec.template.spec
    const all = [...(pod.containers ?? []), ...(pod.initContainers ?? [])] as Container[]
    const dp = all.filter(isDrainpipe)
    t.equal(dp.length, 1, `${name}: one drainpipe container`)
    const drainpipe = dp[0]!
    const app = (pod.containers as Container[]).find((c) => c.name === 'app')!
    t.ok(app, `${name}: an app container`)

    const { argv, env } = drainpipeInputs(drainpipe)
    for (const k of Object.keys(env)) if (k.startsWith('DRAINPIPE_')) t.ok(ENV_NAMES.has(k), `${name}: ${k} is known`)
    const parsed = parseConfig(argv, env)
    if (parsed.kind !== 'config') throw new Error('expected a config')
    const config: Config = parsed.config
    t.same(parsed.warnings, [], `${name}: drainpipe has no start-up warnings`)

    // Grace period: the pod's, the one drainpipe is told, and enough for the drain plus margin.
    const grace = pod.terminationGracePeriodSeconds as number
    t.equal(config.gracePeriodMs, grace * 1000, `${name}: --grace-period is terminationGracePeriodSeconds`)
    t.ok(
      grace * 1000 >= config.maxWaitMs + config.drainTimeoutMs + 20_000,
      `${name}: ${grace} s covers --max-wait + --drain-timeout + 20 s`,
    )
    // drainpipe's own budget check (the one that refuses to start), against the pod's figure.
    const budget = graceBudget({ maxWaitMs: config.maxWaitMs, drainTimeoutMs: config.drainTimeoutMs, gracePeriodMs: grace * 1000 })
    t.ok(budget.fits, `${name}: terminationGracePeriodSeconds ${grace} fits drainpipe's budget (${budget.neededMs / 1000} s)`)

    // The pod IP comes from the downward API.
    const podIp = drainpipe.env?.find((e) => e.name === 'POD_IP')
    t.equal(podIp?.valueFrom?.fieldRef?.fieldPath, 'status.podIP', `${name}: POD_IP from the downward API`)
    t.equal(config.targetId, '10.0.1.23', `${name}: --target-id defaults to $POD_IP`)

    // Ports: the named ports the probes and the Service use are drainpipe's.
    const portOf = (p: number | string) =>
      typeof p === 'number' ? p : all.flatMap((c) => c.ports ?? []).find((x) => x.name === p)?.containerPort
    t.equal(portOf('traffic'), config.listen.port, `${name}: port "traffic" is --listen`)
    t.equal(portOf('admin'), config.admin.port, `${name}: port "admin" is --admin`)
    t.equal(config.upstream.host, '127.0.0.1', `${name}: the app is reached over loopback`)
    t.equal(app.env?.find((e) => e.name === 'PORT')?.value, String(config.upstream.port), `${name}: the app listens on --upstream's port`)
    t.equal(drainpipe.readinessProbe?.httpGet?.path, '/readyz')
    t.equal(portOf(drainpipe.readinessProbe!.httpGet!.port), config.admin.port)
    t.equal(drainpipe.livenessProbe?.httpGet?.path, '/livez')
    t.equal(portOf(drainpipe.livenessProbe!.httpGet!.port), config.admin.port)

    // preStop: both containers call /prestop on the admin port with the token drainpipe requires.
    t.ok(config.adminToken && config.adminToken.length >= 16, `${name}: an admin token is set`)
    for (const c of [app, drainpipe]) {
      const hook = c.lifecycle?.preStop
      t.notOk(hook?.sleep ?? hook?.exec, `${name}/${c.name}: no sleep or exec preStop`)
      t.equal(hook?.httpGet?.path, '/prestop', `${name}/${c.name}: preStop calls /prestop`)
      t.equal(
        hook?.httpGet?.port,
        config.admin.port,
        `${name}/${c.name}: on the admin port (numeric: the app container has no port named admin)`,
      )
      t.same(
        hook?.httpGet?.httpHeaders,
        [{ name: 'Authorization', value: `Bearer ${config.adminToken}` }],
        `${name}/${c.name}: with drainpipe's token`,
      )
    }
    t.ok(
      drainpipe.resources?.requests?.cpu && drainpipe.resources?.requests?.memory && drainpipe.resources?.limits?.memory,
      `${name}: drainpipe has requests and a memory limit`,
    )

    const services = render(dir).filter((o) => o.kind === 'Service')
    t.equal(services.length, 1)
    const svc = services[0] as any
    t.ok(
      (svc.spec.ports as Array<{ targetPort: string }>).some((p) => p.targetPort === 'traffic'),
      `${name}: the Service targets drainpipe, not the app`,
    )
    // Several ports: each pod port is a container port of drainpipe and a Service port (its own
    // target group), and every Service port reaches one of drainpipe's pod ports.
    const ports = podPorts(config)
    const listens = ports.map((p) => p.listen.port)
    // A named targetPort is resolved from spec.containers only by the AWS Load Balancer
    // Controller for IP targets (aws-load-balancer-controller#4239) and by the endpoint
    // controllers before Kubernetes 1.32 (kubernetes/kubernetes#127958): the name must be
    // declared on a regular container, whichever container listens.
    const regular = (pod.containers as Container[]).flatMap((c) => c.ports ?? [])
    for (const p of svc.spec.ports as Array<{ name: string; targetPort: number | string }>) {
      t.ok(listens.includes(portOf(p.targetPort)!), `${name}: Service port ${p.name} targets a drainpipe pod port`)
      if (typeof p.targetPort === 'string')
        t.ok(
          regular.some((c) => c.name === p.targetPort),
          `${name}: Service port ${p.name}'s targetPort "${p.targetPort}" resolves from spec.containers`,
        )
    }
    for (const p of ports) {
      t.ok(
        all.some((c) => c.ports?.some((x) => x.containerPort === p.listen.port)),
        `${name}: pod port ${p.name} (${p.listen.port}) is declared in the pod`,
      )
      t.ok(
        (svc.spec.ports as Array<{ targetPort: number | string }>).some((s) => portOf(s.targetPort) === p.listen.port),
        `${name}: pod port ${p.name} has a Service port`,
      )
      t.equal(p.upstream.host, '127.0.0.1', `${name}: port ${p.name}'s app is reached over loopback`)
      t.ok(
        app.env?.some((e) => e.value === String(p.upstream.port)),
        `${name}: the app is configured to listen on port ${p.name}'s upstream ${p.upstream.port}`,
      )
    }
    if (name.endsWith('several-ports'))
      t.same(
        ports.map((p) => [p.name, p.mode, p.upstreamProtocol]),
        [
          ['http', 'http', 'h1'],
          ['grpc', 'http', 'h2c'],
        ],
        `${name}: http, and grpc over h2c (drained with GOAWAY, not cut at --drain-timeout)`,
      )

    if (name.endsWith('native-sidecar')) {
      t.equal(drainpipe.restartPolicy, 'Always', `${name}: drainpipe is a native sidecar`)
      t.ok((pod.initContainers as Container[]).includes(drainpipe), `${name}: in initContainers`)
      t.equal(pod.containers.length, 1, `${name}: only the app in containers`)
    } else {
      t.ok((pod.containers as Container[]).includes(drainpipe), `${name}: drainpipe is a classic sidecar`)
    }

    const ingresses = render(dir).filter((o) => o.kind === 'Ingress')
    if (name.endsWith('alb-ingress')) {
      t.equal(ingresses.length, 1, `${name}: one Ingress`)
      t.equal(config.proxyProtocol, 'off', `${name}: the ALB sends no PROXY header`)
      t.equal(config.xff, 'append', `${name}: the ALB's X-Forwarded-For is kept`)
      t.equal(svc.spec.type, 'ClusterIP', `${name}: the Service makes no NLB`)
      t.notOk(svc.metadata.annotations, `${name}: no NLB annotations left`)
      const a = (ingresses[0] as any).metadata.annotations
      t.equal(a['alb.ingress.kubernetes.io/target-type'], 'ip')
      t.equal(Number(a['alb.ingress.kubernetes.io/healthcheck-port']), config.admin.port)
      t.equal(a['alb.ingress.kubernetes.io/healthcheck-path'], '/readyz')
    } else {
      t.equal(ingresses.length, 0)
      t.not(config.proxyProtocol, 'off', `${name}: PROXY headers from the NLB are read`)
      const a = svc.metadata.annotations as Record<string, string>
      t.equal(svc.spec.type, 'LoadBalancer')
      t.equal(a['service.beta.kubernetes.io/aws-load-balancer-type'], 'external')
      t.equal(a['service.beta.kubernetes.io/aws-load-balancer-nlb-target-type'], 'ip')
      const attrs = Object.fromEntries(
        a['service.beta.kubernetes.io/aws-load-balancer-target-group-attributes']!.split(',').map((kv) => kv.trim().split('=')),
      )
      if (config.healthCheckOnTerminate === 'fail') {
        // The fast lane: checks drainpipe can fail while it serves, on the port it closes.
        t.ok(config.healthCheckListen, `${name}: --health-check-listen is set`)
        t.equal(
          a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-port'],
          String(config.healthCheckListen!.port),
          `${name}: the target group checks drainpipe's health-check port`,
        )
        t.equal(
          portOf('healthcheck'),
          config.healthCheckListen!.port,
          `${name}: a container port named healthcheck is --health-check-listen`,
        )
        t.equal(a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol'], 'http', `${name}: HTTP checks`)
        t.ok(a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-path']?.startsWith('/'), `${name}: a health-check path`)
        // Marked unhealthy within interval x threshold; the NLB is reported to stop ~40 s after.
        const detect =
          Number(a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval']) *
          Number(a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold'])
        t.ok(
          detect + 40 <= config.lbUnhealthyLagMaxMs / 1000,
          `${name}: ${detect} s to mark unhealthy + 40 s fits --lb-unhealthy-lag-max ${config.lbUnhealthyLagMaxMs / 1000} s`,
        )
        const interval = Number(attrs['target_health_state.unhealthy.draining_interval_seconds'])
        const needed = neededDrainingIntervalSeconds({ unhealthyLagMs: config.lbUnhealthyLagMaxMs, drainTimeoutMs: config.drainTimeoutMs })
        t.ok(interval >= needed, `${name}: unhealthy draining interval ${interval} s passes drainpipe's start-up check (${needed} s)`)
        t.ok(
          interval * 1000 >= config.maxWaitMs + config.drainTimeoutMs,
          `${name}: and covers --max-wait + --drain-timeout (fail-open keeps the pod serving up to --max-wait)`,
        )
        t.ok(config.targetGroupArns.length > 0, `${name}: target groups named, so the start-up check can read their attributes`)
      } else {
        t.equal(a['service.beta.kubernetes.io/aws-load-balancer-healthcheck-port'], 'traffic-port')
      }
      t.equal(attrs['proxy_protocol_v2.enabled'], 'true', `${name}: PROXY v2 on`)
      t.equal(Number(attrs['deregistration_delay.timeout_seconds']), grace, `${name}: deregistration delay = grace period`)
      t.equal(
        attrs['target_health_state.unhealthy.connection_termination.enabled'],
        'false',
        `${name}: draining connections are not reset when health checks fail`,
      )
    }

    const ns = render(dir).find((o) => o.kind === 'Namespace')
    t.equal(ns?.metadata?.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject'], 'enabled', `${name}: readiness gate injection`)
    t.ok(
      render(dir).some((o) => o.kind === 'PodDisruptionBudget'),
      `${name}: a PodDisruptionBudget`,
    )
    const sa = render(dir).find((o) => o.kind === 'ServiceAccount') as any
    t.equal(sa?.metadata?.name, pod.serviceAccountName, `${name}: the pod runs as the ServiceAccount`)
    if (config.deregistration.includes('elbv2')) {
      t.match(
        sa.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '',
        /^arn:aws:iam::\d{12}:role\//,
        `${name}: IRSA role for the elbv2 observer`,
      )
      t.ok(config.targetGroupArns.length > 0, `${name}: target groups named`)
    }
  }
})

t.test("the fast lane's IAM policy adds DescribeTargetGroupAttributes (its start-up check) and nothing else", async (t) => {
  const policy = JSON.parse(readFileSync(path.join(ROOT, 'k8s/fast-lane/iam-policy.json'), 'utf8'))
  t.equal(policy.Version, '2012-10-17')
  t.same(
    policy.Statement.map((s: any) => [s.Effect, [s.Action].flat()]),
    [
      ['Allow', ['elasticloadbalancing:DescribeTargetHealth']],
      ['Allow', ['elasticloadbalancing:DescribeTargetGroupAttributes']],
    ],
  )
})

t.test('the IAM policy for the elbv2 observer allows DescribeTargetHealth and nothing else', async (t) => {
  const policy = JSON.parse(readFileSync(path.join(ROOT, 'k8s/nlb-elbv2/iam-policy.json'), 'utf8'))
  t.equal(policy.Version, '2012-10-17')
  t.same(
    policy.Statement.map((s: any) => [s.Effect, [s.Action].flat()]),
    [['Allow', ['elasticloadbalancing:DescribeTargetHealth']]],
  )
})
