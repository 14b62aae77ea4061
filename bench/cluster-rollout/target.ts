// Which URLs the cluster load test may hit without --allow-remote: loopback only
// (127.0.0.0/8, ::1, localhost). Load tests started from this repository stay on the machine
// unless the user says the target is theirs to load (e.g. a port-forward is loopback; a
// public load balancer is not).
import { isIP } from 'node:net'

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host)
  return false
}
