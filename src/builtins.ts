// node:http and node:fs, loaded with require() rather than `import`. An ESM import of a builtin
// builds its module namespace from every export, and that runs the builtin's lazy getters:
// http's WebSocket, CloseEvent and MessageEvent load Node's bundled undici (on Node 22–26 +7 MiB
// anonymous memory and +8 MiB of the node binary paged in, in every pod, for classes drainpipe
// never uses); fs's `promises` loads fs/promises, readline and the REPL's history (32 more of
// Node's modules on Node 26). docs/performance.md, "Memory". require() returns the module object
// and leaves the getters alone. Types still come from `import type … from 'node:http'`.
// (node:crypto's webcrypto getter was measured too: under 1 MiB, so crypto is imported as usual.)
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const http: typeof import('node:http') = require('node:http')
export const fs: typeof import('node:fs') = require('node:fs')

let http2: typeof import('node:http2') | undefined
/**
 * node:http2, loaded when the first HTTP/2 connection needs it. (In http mode undici's Pool
 * has loaded it already; a tcp-mode pod, whose health responder can answer HTTP/2 too, never
 * loads it unless a health check speaks HTTP/2.)
 */
export function loadHttp2(): typeof import('node:http2') {
  http2 ??= require('node:http2') as typeof import('node:http2')
  return http2
}
