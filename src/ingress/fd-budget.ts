// How many pod-port connections fit under the process's file-descriptor limit. Out of
// descriptors, libuv sheds each new connection silently (accept → EMFILE → accept and close
// it with a spare descriptor): nothing is counted or logged, and the admin port, the app
// connections and the readiness probe fail alike, so the kubelet may restart a pod that is
// merely flooded. Capping the pod port below the limit keeps a reserve for all of those
// and turns the excess into counted refusals.
import { fs } from '../builtins.js'

/** Descriptors one forwarded connection may take: the client's and the app's. */
export const FDS_PER_CONNECTION = 2
/** Kept free for the admin port, app connections beyond the pairs, logs, DNS, the runtime. */
export const MAX_RESERVE = 64

/** The soft RLIMIT_NOFILE (Linux /proc), or undefined when unknown or unlimited. */
export function softFdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Descriptors open now, or undefined when unknown. */
export function openFdCount(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}

/**
 * Connections the pod port may hold: (limit − open now − reserve) / 2, the reserve being a
 * quarter of the limit up to 64. 0 when the limit is unknown (no cap).
 */
export function fdConnectionBudget(limit: number | undefined = softFdLimit(), open: number | undefined = openFdCount()): number {
  if (limit === undefined || open === undefined || !Number.isFinite(limit) || !Number.isFinite(open)) return 0
  const reserve = Math.min(MAX_RESERVE, Math.floor(limit / 4))
  return Math.max(1, Math.floor((limit - open - reserve) / FDS_PER_CONNECTION))
}
