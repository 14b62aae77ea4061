// Who may call the mutating admin endpoints (/prestop): with --admin-token, whoever sends
// `Authorization: Bearer <token>`; without one, loopback clients only. Nobody else in the
// cluster may shut a pod down.
import { timingSafeEqual, createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; message: string }

export function createAdminAuth(token: string | undefined): (req: IncomingMessage) => AuthResult {
  // Compare digests, so the comparison takes the same time whatever the length of the guess.
  const expected = token === undefined ? undefined : createHash('sha256').update(`Bearer ${token}`).digest()
  return (req) => {
    if (expected !== undefined) {
      const given = req.headers.authorization
      if (given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected)) return { ok: true }
      return { ok: false, status: 401, message: 'missing or wrong "Authorization: Bearer" token (--admin-token)\n' }
    }
    if (isLoopback(req.socket.remoteAddress ?? '')) return { ok: true }
    return { ok: false, status: 403, message: 'only loopback clients may call this without --admin-token\n' }
  }
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}
