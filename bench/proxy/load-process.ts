// The load generators' process entry: the spec comes as JSON in argv[2], the result goes to
// stdout as one JSON line, and any failure exits 1 with its stack on stderr.
import type { LoadResult, LoadSpec } from './load.js'

export function runLoadProcess(name: string, run: (spec: LoadSpec) => Promise<LoadResult>): void {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
  run(spec).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`)
      process.exit(0)
    },
    (err) => {
      process.stderr.write(`${name}: ${(err as Error).stack ?? err}\n`)
      process.exit(1)
    },
  )
}
