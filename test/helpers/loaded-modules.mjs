// Preloaded into drainpipe (NODE_OPTIONS=--import=…) by test/core/footprint.test.ts: on
// SIGUSR2, prints one JSON log line naming what the process has loaded so far, Node's own
// modules (process.moduleLoadList) and the npm packages in the CommonJS cache.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
process.on('SIGUSR2', () => {
  const packages = new Set()
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)
    if (m) packages.add(m[1])
  }
  process.stdout.write(`${JSON.stringify({ msg: 'loaded modules', builtins: process.moduleLoadList, packages: [...packages] })}\n`)
})
