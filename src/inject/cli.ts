// The subcommands of the drainpipe CLI that are not the sidecar: `inject`, `uninject`, `webhook`.
// src/cli.ts hands argv here first; anything else falls through to the sidecar. The modules are
// loaded only when a subcommand runs, so the sidecar's start-up does not pay for them.
import { fs } from '../builtins.js'

export const SUBCOMMANDS = ['inject', 'uninject', 'webhook'] as const
export type Subcommand = (typeof SUBCOMMANDS)[number]

export const packageVersion = (): string =>
  (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Runs a subcommand and exits with its status; returns at once when argv names none. */
export async function runSubcommandIfAny(argv: readonly string[]): Promise<void> {
  const sub = argv[0] as Subcommand
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) return
  let code: number
  if (sub === 'webhook') {
    const { runWebhook } = await import('../webhook/cli.js')
    code = await runWebhook(argv.slice(1), packageVersion())
  } else {
    const { runInject } = await import('./command.js')
    code = await runInject(sub, argv.slice(1), packageVersion())
  }
  // Exit only once stdout and stderr are flushed (they are asynchronous pipes under kubectl/CI).
  await new Promise<void>((resolve) => process.stdout.write('', () => process.stderr.write('', () => resolve())))
  process.exit(code)
}
