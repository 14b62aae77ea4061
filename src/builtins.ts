// node:http and node:crypto, loaded with require() rather than `import`. An ESM import of a
// builtin builds its module namespace from every export, and that runs the builtin's lazy
// getters: http's WebSocket, CloseEvent and MessageEvent load Node's bundled undici, crypto's
// webcrypto/subtle load WebCrypto. On Node 22–26 that is megabytes of memory in every pod for
// classes drainpipe never uses (docs/performance.md, "Memory"). require() returns the module
// object and leaves the getters alone. Types still come from `import type … from 'node:…'`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const http: typeof import('node:http') = require('node:http')
export const crypto: typeof import('node:crypto') = require('node:crypto')
