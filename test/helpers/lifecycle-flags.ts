// Flags that keep a test's wait for the load balancer short under both the current decision
// and the one being rebuilt (issue 10 adds --lb-lag-max: with thin traffic evidence it waits
// that long after deregistration). Detected from --help, so tests run against either build.
import { execFileSync } from 'node:child_process'
import { CLI } from './processes.js'

let help: string | undefined

/** A fixed quiet window of `seconds`, and (where the build has it) a lag bound of the same. */
export function shortWait(seconds: number): string[] {
  help ??= execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' })
  return ['--quiet-period', String(seconds), ...(help.includes('--lb-lag-max') ? ['--lb-lag-max', String(seconds)] : [])]
}
