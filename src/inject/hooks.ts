// The app container's preStop hook. drainpipe needs it to be an httpGet to its /prestop: the
// kubelet runs it at termination start and sends the app SIGTERM only once it returns, i.e. once
// drainpipe has drained. A `sleep` preStop (the usual hand-made delay) is what this replaces; any
// other hook does work of its own, and inject refuses rather than drop it silently.
import { InjectError } from '../errors.js'
import { asObject, type Container } from './pod-spec.js'
import type { JsonObject, JsonValue } from './json-patch.js'

export type ExistingPreStop =
  | { kind: 'none' }
  | { kind: 'sleep'; hook: JsonObject; describe: string }
  | { kind: 'other'; hook: JsonObject; describe: string }

const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash', '/usr/bin/bash', 'ash', '/bin/ash'])
const SLEEPS = new Set(['sleep', '/bin/sleep', '/usr/bin/sleep'])

function isSleepCommand(command: JsonValue | undefined): boolean {
  if (!Array.isArray(command) || !command.every((c) => typeof c === 'string')) return false
  const argv = command as string[]
  if (argv.length === 2 && SLEEPS.has(argv[0]!) && /^\d+(\.\d+)?s?$/.test(argv[1]!)) return true
  return argv.length === 3 && SHELLS.has(argv[0]!) && argv[1] === '-c' && /^\s*(exec\s+)?sleep\s+\d+(\.\d+)?s?\s*;?\s*$/.test(argv[2]!)
}

export function existingPreStop(c: Container): ExistingPreStop {
  const hook = asObject(asObject(c.lifecycle)?.preStop)
  if (!hook) return { kind: 'none' }
  const describe = JSON.stringify(hook)
  const keys = Object.keys(hook)
  if (keys.length === 1 && keys[0] === 'sleep') return { kind: 'sleep', hook, describe }
  if (keys.length === 1 && keys[0] === 'exec' && isSleepCommand(asObject(hook.exec)?.command)) return { kind: 'sleep', hook, describe }
  return { kind: 'other', hook, describe }
}

export function prestopHook(adminPort: number, token: string): JsonObject {
  return { httpGet: { path: '/prestop', port: adminPort, httpHeaders: [{ name: 'Authorization', value: `Bearer ${token}` }] } }
}

/**
 * Gives the app its preStop call to drainpipe. Returns the hook it replaced (for uninject), or
 * undefined when there was none; a sleep is replaced with a note, any other hook refused.
 */
export function setAppPreStop(app: Container, hook: JsonObject, what: string, note: (line: string) => void): JsonObject | undefined {
  const existing = existingPreStop(app)
  if (existing.kind === 'other') {
    throw new InjectError(
      'ERR_INJECT_HOOK',
      `${what}: container ${app.name} already has a preStop hook ${existing.describe}; drainpipe needs that hook to call its /prestop (the app gets SIGTERM once drainpipe has drained), and inject will not drop yours. Move that work into the app's SIGTERM handling (it now runs after the drain) and remove the hook, then inject again`,
    )
  }
  if (existing.kind === 'sleep')
    note(
      `${what}: container ${app.name}: preStop ${existing.describe} replaced by the call to drainpipe's /prestop, which waits until the load balancer stopped sending instead of a fixed time`,
    )
  const lifecycle = asObject(app.lifecycle) ?? {}
  lifecycle.preStop = hook
  app.lifecycle = lifecycle
  return existing.kind === 'sleep' ? existing.hook : undefined
}

/** uninject: puts back what setAppPreStop replaced (or nothing). */
export function restoreAppPreStop(app: Container, previous: JsonObject | undefined): void {
  const lifecycle = asObject(app.lifecycle)
  if (!lifecycle) return
  if (previous) lifecycle.preStop = previous
  else delete lifecycle.preStop
  if (Object.keys(lifecycle).length === 0) delete app.lifecycle
}
