// node:http2, loaded when the first HTTP/2 connection (or h2c stream to the app) needs it: most
// pods never speak HTTP/2, and the module is memory in every pod that loads it (see
// builtins.ts for why builtins are loaded with require()).
import { createRequire } from 'node:module'

let http2: typeof import('node:http2') | undefined

export function loadHttp2(): typeof import('node:http2') {
  http2 ??= createRequire(import.meta.url)('node:http2') as typeof import('node:http2')
  return http2
}
