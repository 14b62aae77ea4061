// http mode streams bodies both ways, never buffering them whole: a 50 MB upload and a
// 50 MB download arrive intact (SHA-256 equal) while drainpipe's resident memory grows by
// far less than the body; a client that stops reading holds the app back (backpressure).
import t from 'tap'
import http from 'node:http'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { scrapeMetrics } from '../helpers/metrics.js'

const MB = 1024 * 1024
const BODY = 50 * MB
// drainpipe may grow by buffers in flight and allocator slack, never by the body itself.
const RSS_GROWTH_LIMIT = 24 * MB

const app = await startApp(t)
// As the image runs it (Dockerfile ENTRYPOINT): on Node 24 and 26 V8 otherwise grows each
// young-generation semi-space to 16 MiB under a stream like this one, and the growth measured
// here reached 20–24.7 MB on either line with the body streamed (docs/performance.md, "Memory");
// with the cap it stays at 1–13 MB, so the limit again tells streaming from buffering.
const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`], { bareNodeArgs: ['--max-semi-space-size=1'] })
const agent = new http.Agent({ keepAlive: false })
t.teardown(() => agent.destroy())

const rss = async () => (await scrapeMetrics(dp.adminUrl)).value('drainpipe_process_resident_memory_bytes')

/** Samples drainpipe's RSS every 100 ms until stopped; resolves with the peak. */
function sampleRss(): { stop(): Promise<number> } {
  let peak = 0
  let running = true
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rss())
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return Math.max(peak, await rss())
    },
  }
}

/** Deterministic, incompressible-looking 64 KiB blocks. */
function block(i: number): Buffer {
  const b = Buffer.alloc(64 * 1024)
  let x = (i + 1) * 2654435761
  for (let j = 0; j < b.length; j += 4) {
    x = (x ^ (x << 13) ^ (x >>> 17) ^ (x << 5)) >>> 0
    b.writeUInt32LE(x, j)
  }
  return b
}

/** POST `bytes` of `block`s; resolves with the app's answer. */
async function upload(bytes: number, onBlock: (b: Buffer) => void = () => {}): Promise<{ status: number; text: string }> {
  const req = http.request({
    host: '127.0.0.1',
    port: dp.port,
    method: 'POST',
    path: '/upload',
    agent,
    headers: { 'content-type': 'application/octet-stream', 'content-length': bytes },
  })
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>
  for (let i = 0; i < bytes / (64 * 1024); i++) {
    const b = block(i)
    onBlock(b)
    if (!req.write(b)) await once(req, 'drain')
  }
  req.end()
  const [res] = await response
  let text = ''
  for await (const chunk of res) text += chunk
  return { status: res.statusCode!, text }
}

// Warm up first: the first few MB through a fresh process grow V8's young generation and
// the allocator's pools (tens of MB, once); the baseline must be the steady state.
await upload(16 * MB)
await fetch(`${dp.url}/?bytes=${16 * MB}`).then((r) => r.arrayBuffer())

t.test('50 MB upload streams through: the app hashes exactly what the client sent', async (t) => {
  const base = await rss()
  const sampler = sampleRss()
  const hash = createHash('sha256')
  const { status, text } = await upload(BODY, (b) => hash.update(b))
  const peak = await sampler.stop()
  t.equal(status, 200)
  const seen = JSON.parse(text) as { bytes: number; sha256: string }
  t.equal(seen.bytes, BODY, 'every byte arrived')
  t.equal(seen.sha256, hash.digest('hex'), 'byte for byte')
  t.ok(
    peak - base < RSS_GROWTH_LIMIT,
    `drainpipe RSS grew ${((peak - base) / MB).toFixed(1)} MB for a ${BODY / MB} MB upload (limit ${RSS_GROWTH_LIMIT / MB} MB)`,
  )
})

t.test('50 MB download streams through: the client hashes exactly what the app sent', async (t) => {
  const base = await rss()
  const sampler = sampleRss()
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: dp.port, path: `/?bytes=${BODY}`, agent }, resolve).on('error', reject)
  })
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  const peak = await sampler.stop()
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-length'], String(BODY), 'length passed through')
  t.equal(bytes, BODY)
  const expected = createHash('sha256')
  const a = Buffer.alloc(64 * 1024, 0x61)
  for (let left = BODY; left > 0; left -= a.length) expected.update(left >= a.length ? a : a.subarray(0, left))
  t.equal(hash.digest('hex'), expected.digest('hex'), 'byte for byte')
  t.ok(
    peak - base < RSS_GROWTH_LIMIT,
    `drainpipe RSS grew ${((peak - base) / MB).toFixed(1)} MB for a ${BODY / MB} MB download (limit ${RSS_GROWTH_LIMIT / MB} MB)`,
  )
})

t.test('a client that stops reading holds the app back: drainpipe does not buffer the rest', async (t) => {
  const base = await rss()
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: dp.port, path: `/?bytes=${BODY}`, agent }, resolve).on('error', reject)
  })
  // Read 1 MB, then stop for a while: without backpressure the app would push the other
  // 49 MB into drainpipe's memory during the pause.
  let bytes = 0
  let paused = false
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (bytes >= MB && !paused) {
      paused = true
      res.pause()
    }
  })
  const deadline = Date.now() + 10_000
  while (bytes < MB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  let peak = 0
  for (let i = 0; i < 15; i++) {
    peak = Math.max(peak, await rss())
    await new Promise((r) => setTimeout(r, 100))
  }
  const pausedAt = bytes
  t.ok(pausedAt < 20 * MB, `the paused client had received ${(pausedAt / MB).toFixed(1)} MB: the rest is held back`)
  t.ok(
    peak - base < RSS_GROWTH_LIMIT,
    `drainpipe RSS grew ${((peak - base) / MB).toFixed(1)} MB while the client paused (limit ${RSS_GROWTH_LIMIT / MB} MB)`,
  )
  res.resume()
  await once(res, 'end')
  t.equal(bytes, BODY, 'after resuming, the whole body arrives')
})
