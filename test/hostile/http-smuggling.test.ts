// http mode against request smuggling: ambiguous framing (Content-Length vs
// Transfer-Encoding, duplicates, obs-fold, bare LF, bad chunk sizes) is refused by Node's
// strict parser with 400, oversized heads with 431, and none of it reaches the app. The app
// here records every raw byte it receives, so "nothing ambiguous reached it" is checked on
// the wire, not on what a lenient parser would make of it.
import t from 'tap'
import { startInProcess } from '../helpers/sidecar.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'

const H = 'host: x\r\nconnection: close\r\n'

/** Every request carries a marker in its target and body, so the app's bytes can be searched. */
const REJECTED: Array<{ name: string; bytes: string; status?: number }> = [
  {
    name: 'Content-Length and Transfer-Encoding together',
    bytes: `POST /m1 HTTP/1.1\r\n${H}content-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /m1-smuggled HTTP/1.1\r\nhost: x\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding then Content-Length',
    bytes: `POST /m2 HTTP/1.1\r\n${H}transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n3\r\nm2x\r\n0\r\n\r\n`,
  },
  { name: 'two different Content-Length values', bytes: `POST /m3 HTTP/1.1\r\n${H}content-length: 3\r\ncontent-length: 40\r\n\r\nm3x` },
  { name: 'a Content-Length list', bytes: `POST /m4 HTTP/1.1\r\n${H}content-length: 3, 40\r\n\r\nm4x` },
  { name: 'a negative Content-Length', bytes: `POST /m5 HTTP/1.1\r\n${H}content-length: -1\r\n\r\nm5x` },
  { name: 'a signed Content-Length', bytes: `POST /m6 HTTP/1.1\r\n${H}content-length: +3\r\n\r\nm6x` },
  { name: 'Transfer-Encoding not ending in chunked', bytes: `POST /m7 HTTP/1.1\r\n${H}transfer-encoding: chunked, identity\r\n\r\nm7x` },
  { name: 'an unknown Transfer-Encoding', bytes: `POST /m8 HTTP/1.1\r\n${H}transfer-encoding: xchunked\r\n\r\n3\r\nm8x\r\n0\r\n\r\n` },
  { name: 'whitespace before the colon', bytes: `POST /m9 HTTP/1.1\r\n${H}transfer-encoding : chunked\r\ncontent-length: 3\r\n\r\nm9x` },
  {
    name: 'obs-fold (a header continued on the next line)',
    bytes: `GET /m10 HTTP/1.1\r\n${H}x-folded: a\r\n  transfer-encoding: chunked\r\n\r\n`,
  },
  { name: 'bare LF line endings', bytes: 'GET /m11 HTTP/1.1\nhost: x\nconnection: close\n\n' },
  { name: 'bare LF inside the head', bytes: `GET /m12 HTTP/1.1\r\nhost: x\nx-m12: y\r\nconnection: close\r\n\r\n` },
  { name: 'a chunk size that is not hex', bytes: `POST /m13 HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\nzz\r\nm13\r\n0\r\n\r\n` },
  {
    name: 'a chunk size that overflows 64 bits',
    bytes: `POST /m14 HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n1ffffffffffffffff3\r\nm14\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk data longer than its size',
    bytes: `POST /m15 HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n3\r\nm15-too-long\r\n0\r\n\r\n`,
  },
  { name: 'a NUL byte in a header value', bytes: `GET /m16 HTTP/1.1\r\n${H}x-nul: a\u0000b\r\n\r\n` },
  { name: 'a space in the header name', bytes: `GET /m17 HTTP/1.1\r\n${H}x bad: 1\r\n\r\n` },
  { name: 'an absolute-form target (drainpipe is not a forward proxy)', bytes: `GET http://m18.example/ HTTP/1.1\r\n${H}\r\n` },
  { name: 'HTTP/1.1 without Host', bytes: 'GET /m19 HTTP/1.1\r\nconnection: close\r\n\r\n' },
  { name: 'request head over 16 KiB', bytes: `GET /m20 HTTP/1.1\r\n${H}x-big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, status: 431 },
  {
    name: 'many small headers over 16 KiB',
    bytes: `GET /m21 HTTP/1.1\r\n${H}${Array.from({ length: 800 }, (_, i) => `x-h${i}: ${'b'.repeat(20)}\r\n`).join('')}\r\n`,
    status: 431,
  },
]

t.test('ambiguous or malformed requests are refused and never forwarded', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  for (const c of REJECTED) {
    const { data, closedBy } = await rawExchange(dp.port, c.bytes)
    const res = parseResponse(data)
    t.equal(res.status, c.status ?? 400, `${c.name}: ${c.status ?? 400}`)
    t.not(closedBy, 'timeout', `${c.name}: connection closed`)
  }
  const received = app.received()
  t.equal(app.requests.length, 0, 'no request reached the app')
  for (let i = 1; i <= REJECTED.length; i++)
    t.notOk(received.includes(`/m${i}`) || received.includes(`m${i}x`), `no byte of case m${i} reached the app`)
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_upstream_errors_total'), 0)
  t.equal((await fetch(`${dp.adminUrl}/livez`)).status, 200, 'drainpipe is still up')
})

t.test('what is valid is forwarded with one unambiguous framing', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  const chunked = await rawExchange(
    dp.port,
    `POST /c HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`,
  )
  t.equal(parseResponse(chunked.data).status, 200, 'chunked with an extension')
  t.equal(app.requests.at(-1)!.body.toString(), 'abcde', 'the body the app got is the decoded chunks')
  const sized = await rawExchange(dp.port, `POST /s HTTP/1.1\r\n${H}content-length: 5\r\n\r\nhello`)
  t.equal(parseResponse(sized.data).status, 200)
  t.equal(app.requests.at(-1)!.body.toString(), 'hello')

  // On the wire to the app each request has exactly one framing header.
  for (const conn of app.connections) {
    const text = Buffer.concat(conn).toString('latin1')
    for (const head of text.split(/\r\n\r\n/).filter((h) => /^(GET|POST) /.test(h))) {
      const cl = (head.match(/^content-length:/gim) ?? []).length
      const te = (head.match(/^transfer-encoding:/gim) ?? []).length
      t.ok(cl + te <= 1, `one framing header in ${JSON.stringify(head.split('\r\n')[0])}`)
    }
  }
})

t.test('pipelined requests are answered in order, each forwarded as its own request', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  // A body that looks like a request must stay a body: Content-Length decides.
  const inBody = 'GET /p1-in-body HTTP/1.1\r\nhost: x\r\n\r\n'
  const pipelined = [
    `POST /p1 HTTP/1.1\r\nhost: x\r\ncontent-length: ${inBody.length}\r\n\r\n${inBody}`,
    'GET /p2 HTTP/1.1\r\nhost: x\r\n\r\n',
    'POST /p3 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n4\r\np3p3\r\n0\r\n\r\n',
    'GET /p4 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
  ].join('')
  const { data } = await rawExchange(dp.port, pipelined)
  const text = data.toString('latin1')
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
  t.same(statuses, [200, 200, 200, 200], 'four answers')
  const urls = [...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1])
  t.same(urls, ['/p1', '/p2', '/p3', '/p4'], 'in order')
  t.same(
    app.requests.map((r) => r.url),
    ['/p1', '/p2', '/p3', '/p4'],
    'the app got exactly these four requests',
  )
  t.equal(app.requests[0]!.body.toString(), inBody, 'the request-shaped body stayed a body')
  t.equal(app.requests[2]!.body.toString(), 'p3p3')

  // A bad request after good ones in the same pipeline: the good ones are answered, then 400 and close.
  const mixed =
    'GET /q1 HTTP/1.1\r\nhost: x\r\n\r\nGET /q1b HTTP/1.1\r\nhost: x\r\n\r\nPOST /q2 HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab'
  const r2 = (await rawExchange(dp.port, mixed)).data.toString('latin1')
  t.same(
    [...r2.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])),
    [200, 200, 400],
    'the valid ones answered, then the ambiguous one refused',
  )
  t.same(
    [...r2.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]),
    ['/q1', '/q1b'],
    'each answer is the one for its request',
  )
  t.notOk(
    app.requests.some((r) => r.url === '/q2'),
    'the ambiguous request never reached the app',
  )
})
