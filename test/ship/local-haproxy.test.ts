// examples/local-haproxy.sh, run as a user would: it must show the client address recovered
// through HAProxy's PROXY v2 header, exit 0, and leave nothing running or listening.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import { ROOT, freePort, needs } from '../helpers/processes.js'

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

t.test(
  'local-haproxy.sh: the app sees the curl client, 127.0.0.7, behind HAProxy and drainpipe',
  { skip: needs('haproxy', 'curl') },
  async (t) => {
    const ports = {
      APP_PORT: await freePort(),
      DRAINPIPE_PORT: await freePort(),
      ADMIN_PORT: await freePort(),
      HAPROXY_PORT: await freePort(),
    }
    const proc = spawn('bash', [join(ROOT, 'examples/local-haproxy.sh')], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let out = ''
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    const killer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, 'SIGKILL')
      } catch {}
    }, 60_000)
    t.teardown(() => {
      clearTimeout(killer)
      try {
        process.kill(-proc.pid!, 'SIGKILL')
      } catch {}
    })
    const [code] = await once(proc, 'exit')

    t.equal(code, 0, `exit 0; output:\n${out}`)
    t.match(out, /socket peer the app saw: +127\.0\.0\.1 \(drainpipe\)/, "the app's socket peer is drainpipe")
    t.match(out, /X-Forwarded-For it received: 127\.0\.0\.7\n/, 'X-Forwarded-For carries the client')
    t.match(out, /Forwarded it received: +for=127\.0\.0\.7;proto=http/, 'so does Forwarded')
    t.match(out, /drainpipe_connections_accepted_total\{port="[^"]*",kind="client"\} [1-9]/, 'drainpipe counted the client connections')
    for (const [name, port] of Object.entries(ports)) {
      t.notOk(await listening(port), `${name} ${port} closed after the script exited`)
    }
  },
)
