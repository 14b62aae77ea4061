// Health checks that end with a reset (HAProxy's check-send-proxy, possibly the NLB's TCP
// probe): whether drainpipe accepts them before or after the RST, they are health checks,
// never header errors, and never reach the app.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startApp } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

async function resetProbe(port: number, bytes?: Buffer): Promise<void> {
  const s = net.connect(port, '127.0.0.1')
  await once(s, 'connect')
  if (bytes) s.write(bytes)
  s.resetAndDestroy()
}

t.test('probes closed with RST, with and without a LOCAL header', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  const local = encodeV2({ command: 'LOCAL', family: 'TCP4', crc32c: true, padTo: 100 })
  const N = 40
  for (let i = 0; i < N; i++) await resetProbe(dp.port, i % 2 === 0 ? local : undefined)
  await new Promise((r) => setTimeout(r, 300))
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_proxy_header_errors_total'), 0, 'no header errors (a reset probe is not an untrusted header)')
  t.equal(m.value('drainpipe_health_checks_total'), N, `all ${N} counted as health checks`)
  t.equal(
    m.value('drainpipe_connections_accepted_total', { kind: 'direct' }) +
      m.value('drainpipe_connections_accepted_total', { kind: 'client' }),
    0,
    'none forwarded to the app',
  )
})
