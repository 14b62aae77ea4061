// What a running drainpipe has loaded, read from the process itself (a preload prints Node's
// module list and the npm packages in the require cache on SIGUSR2). Each module here is
// memory in every pod (docs/performance.md, "Memory"): Node's bundled undici (fetch,
// WebSocket; +7 MiB anonymous, +8 MiB of the binary paged in on Node 22–26) and TLS and zlib
// (prom-client's Pushgateway) are needed by nothing drainpipe does without the elbv2 observer,
// and undici the package only by the http forwarder. An ESM import of node:fs loads fs/promises,
// readline and the REPL's history (its `promises` getter), and node:crypto is for --admin-token
// alone: a tcp-mode drainpipe without a token loads neither (undici loads both in http mode).
// The child runs without the test runner's NODE_OPTIONS, whose preload loads them itself.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startApp, startDrainpipe } from '../helpers/processes.js'

const PRELOAD = fileURLToPath(new URL('../helpers/loaded-modules.mjs', import.meta.url))
const NEVER = ['NativeModule internal/deps/undici/undici', 'NativeModule zlib']
// undici's Pool loads tls (and with it crypto) and fs/promises, so only a tcp-mode drainpipe goes without them.
const NEVER_IN_TCP = [
  ...NEVER,
  'NativeModule tls',
  'NativeModule crypto',
  'NativeModule internal/fs/promises',
  'NativeModule internal/readline/interface',
]

for (const mode of ['tcp', 'http'] as const) {
  t.test(
    `${mode} mode, after traffic, a probe and a scrape: loads ${mode === 'tcp' ? 'no undici at all' : "undici's Pool, not Node's bundled undici"}`,
    async (t) => {
      const app = await startApp(t)
      const dp = await startDrainpipe(t, ['--mode', mode, '--upstream', `127.0.0.1:${app.port}`], {
        // Without the runner's NODE_OPTIONS: tap's own preload loads fs/promises and crypto itself.
        bareNodeArgs: [`--import=${PRELOAD}`],
      })
      const res = await fetch(`${dp.url}/`)
      t.equal(res.status, 200, 'a request went through')
      await res.arrayBuffer()
      t.equal((await fetch(`${dp.adminUrl}/readyz`)).status, 200, 'readiness answered')
      t.match(await (await fetch(`${dp.adminUrl}/metrics`)).text(), /drainpipe_connections_accepted_total/, 'metrics scraped')

      dp.proc.kill('SIGUSR2')
      const line = await dp.waitForLog((l) => l.msg === 'loaded modules')
      const builtins = line.builtins as string[]
      const packages = line.packages as string[]
      for (const m of mode === 'tcp' ? NEVER_IN_TCP : NEVER) t.notOk(builtins.includes(m), `${m} is not loaded`)
      if (mode === 'tcp') t.notOk(packages.includes('undici'), 'the undici package is not loaded')
      else t.ok(packages.includes('undici'), 'the undici package is loaded (the http forwarder uses its Pool)')
    },
  )
}
