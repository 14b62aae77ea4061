// What inject refuses, and that each refusal says what to change. Nothing is half-written.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { run } from './run-inject.js'

const deployment = (podAnnotations: Record<string, string>, app: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: podAnnotations },
          spec: { containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: 8080 }], ...app }], ...extra },
        },
      },
    },
    null,
    2,
  )

const refused = (text: string) => {
  const r = run(text, 'in.json')
  return { errors: r.errors, text: r.text }
}

t.test('a preStop hook that is not a sleep is refused, not dropped', async (t) => {
  const r = refused(deployment({}, { lifecycle: { preStop: { exec: { command: ['/bin/flush-queue', '--wait'] } } } }))
  t.equal(r.text, '', 'nothing written')
  t.match(
    r.errors[0],
    /container app already has a preStop hook \{"exec":\{"command":\["\/bin\/flush-queue","--wait"\]\}\}.*will not drop yours/,
  )
  const shell = refused(
    deployment({}, { lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 5 && curl -X POST localhost/drain'] } } } }),
  )
  t.match(shell.errors[0], /already has a preStop hook/, 'a sleep followed by work is not a sleep')
  const http = refused(deployment({}, { lifecycle: { preStop: { httpGet: { path: '/shutdown', port: 8080 } } } }))
  t.match(http.errors[0], /already has a preStop hook/)
})

t.test('sleep preStop forms that are replaced', async (t) => {
  for (const preStop of [
    { sleep: { seconds: 10 } },
    { exec: { command: ['sleep', '10'] } },
    { exec: { command: ['/bin/sh', '-c', 'sleep 10'] } },
  ]) {
    const r = run(deployment({}, { lifecycle: { preStop } }), 'in.json')
    t.same(r.errors, [], JSON.stringify(preStop))
    t.match(r.notes[0], /replaced by the call to drainpipe's \/prestop/)
  }
})

t.test('a classic sidecar in a Job is refused', async (t) => {
  const job = JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: {
      template: {
        metadata: { annotations: { 'drainpipe.io/sidecar': 'classic' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'x', ports: [{ containerPort: 80 }] }] },
      },
    },
  })
  t.match(refused(job).errors[0], /Job j.*classic sidecar keeps running.*drainpipe.io\/sidecar: native/)
})

t.test('a pod template annotated drainpipe.io/inject: "false" is left alone, with a note', async (t) => {
  const text = deployment({ 'drainpipe.io/inject': 'false' }, {})
  const r = run(text, 'in.json')
  t.same(r.errors, [])
  t.equal(r.text, text, 'unchanged')
  t.same(r.notes, ['Deployment web (in.json): skipped: annotated drainpipe.io/inject: "false"'])
})

t.test('hostNetwork pods are refused', async (t) => {
  t.match(refused(deployment({}, {}, { hostNetwork: true })).errors[0], /hostNetwork pods share the node's ports/)
})

t.test('which port: ambiguous, missing, UDP, hostPort', async (t) => {
  const two = refused(
    deployment(
      {},
      {
        ports: [
          { name: 'web', containerPort: 80 },
          { name: 'grpc', containerPort: 9000 },
        ],
      },
    ),
  )
  t.match(two.errors[0], /2 TCP ports \(app:web=80, app:grpc=9000\): say which one .* drainpipe.io\/port/)
  t.same(
    run(
      deployment(
        {},
        {
          ports: [
            { name: 'http', containerPort: 80 },
            { name: 'grpc', containerPort: 9000 },
          ],
        },
      ),
      'in',
    ).errors,
    [],
    'the one named http is taken when there are several',
  )
  t.match(refused(deployment({ 'drainpipe.io/port': 'grpc' }, {})).errors[0], /no container declares port "grpc"/)
  t.match(refused(deployment({}, { ports: [] })).errors[0], /no container declares a TCP port/)
  t.match(
    refused(deployment({ 'drainpipe.io/port': '53' }, { ports: [{ containerPort: 53, protocol: 'UDP' }] })).errors[0],
    /UDP; drainpipe forwards TCP only/,
  )
  t.match(refused(deployment({}, { ports: [{ name: 'http', containerPort: 80, hostPort: 80 }] })).errors[0], /hostPort/)
  t.match(
    refused(
      deployment(
        {},
        {
          ports: [
            { name: 'http', containerPort: 80 },
            { name: 'x', containerPort: 9901 },
          ],
        },
      ),
    ).errors[0],
    /port 9901 is already used.*drainpipe.io\/admin/,
  )
})

t.test("annotations are checked by their option's parser and named in the error", async (t) => {
  t.match(
    refused(deployment({ 'drainpipe.io/mode': 'udp' }, {})).errors[0],
    /invalid annotation drainpipe.io\/mode "udp": expected one of http, tcp/,
  )
  t.match(
    refused(deployment({ 'drainpipe.io/max-wait': 'forever' }, {})).errors[0],
    /invalid annotation drainpipe.io\/max-wait "forever": expected seconds/,
  )
  t.match(refused(deployment({ 'drainpipe.io/maxwait': '10' }, {})).errors[0], /unknown annotation drainpipe.io\/maxwait/)
  t.match(refused(deployment({ 'drainpipe.io/admin-token': 'x' }, {})).errors[0], /inject sets --admin-token itself/)
  t.match(refused(deployment({ 'drainpipe.io/grace-margin': '5' }, {})).errors[0], /grace-margin "5": expected whole seconds from 10/)
  // Each value is fine alone; together drainpipe's own cross-checks refuse them.
  t.match(
    refused(deployment({ 'drainpipe.io/deregistration': 'elbv2' }, {})).errors[0],
    /drainpipe would refuse this configuration: --deregistration elbv2 needs --target-group-arn.*annotation drainpipe.io\/target-group-arn/,
  )
  t.match(refused(deployment({ 'drainpipe.io/min-wait': '200' }, {})).errors[0], /--min-wait: 200 s is above --max-wait 190 s/)
})

t.test('a drainpipe container inject did not add (the hand-written reference) is refused', async (t) => {
  const text = readFileSync(new URL('../../k8s/base/deployment.yaml', import.meta.url), 'utf8')
  const r = run(text, 'k8s/base/deployment.yaml')
  t.match(r.errors[0], /already has a container named drainpipe that inject did not add/)
})

t.test('grace period: never lowered; margin of at least 10 s', async (t) => {
  const big = run(deployment({}, {}, { terminationGracePeriodSeconds: 900 }), 'in')
  t.match(big.text, /"terminationGracePeriodSeconds": 900/)
  t.match(big.text, /"name": "DRAINPIPE_GRACE_PERIOD",\s+"value": "900"/)
  const tight = run(
    deployment({ 'drainpipe.io/max-wait': '60', 'drainpipe.io/drain-timeout': '5', 'drainpipe.io/grace-margin': '10' }, {}),
    'in',
  )
  t.match(tight.text, /"terminationGracePeriodSeconds": 75/, '60 + 5 + 10')
})

t.test('an input that is not YAML, or not Kubernetes, is an error or passes through', async (t) => {
  t.throws(
    () => run('a: [1, 2\n', 'bad.yaml'),
    { code: 'ERR_INJECT_INPUT', message: /^bad.yaml: Flow sequence/ },
    'a YAML syntax error names the file',
  )
  t.throws(() => run('{"kind": ', 'bad.json'), { code: 'ERR_INJECT_INPUT', message: /^bad.json: not valid JSON/ })
  const other = 'just: some\nyaml: true\n'
  t.equal(run(other, 'x.yaml').text, other, 'YAML without pod templates passes through unchanged')
})
