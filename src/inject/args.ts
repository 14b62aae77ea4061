// Command-line settings of inject and the webhook: the same flags as the annotations, each checked
// by its option's own parser. A bad flag is a UsageError (exit 2) naming it and what it accepts.
import { checkSetting, isSettingFlag } from './options.js'
import { InjectError } from '../errors.js'

export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
}

export interface ParsedArgs {
  settings: Map<string, string>
  /** flags the caller takes itself (the webhook's --tls-cert, ...) */
  own: Map<string, string>
  positional: string[]
  help: boolean
}

export function parseArgs(argv: readonly string[], ownFlags: readonly string[] = []): ParsedArgs {
  const out: ParsedArgs = { settings: new Map(), own: new Map(), positional: [], help: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') {
      out.help = true
      continue
    }
    if (arg === '-' || !arg.startsWith('--')) {
      out.positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const flag = arg.slice(2, eq === -1 ? undefined : eq)
    const own = ownFlags.includes(flag)
    if (!own && !isSettingFlag(flag)) throw new UsageError(`unknown flag --${flag} (see --help)`)
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      value = argv[++i]
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${flag} needs a value`)
    }
    const target = own ? out.own : out.settings
    if (target.has(flag)) throw new UsageError(`--${flag} given more than once`)
    if (!own) {
      try {
        checkSetting(flag, value, `--${flag}`)
      } catch (err) {
        if (err instanceof InjectError) throw new UsageError(err.message)
        throw err
      }
    }
    target.set(flag, value)
  }
  return out
}
