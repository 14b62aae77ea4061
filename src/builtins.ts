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
