// `drainpipe inject` and `drainpipe uninject`: manifests in (files or stdin), manifests out
// (stdout), notes and errors on stderr. Nothing is written when any object is refused: exit 1.
import { readFileSync } from 'node:fs'
import { parseArgs, UsageError } from './args.js'
import { InjectError } from './errors.js'
import { INJECT_OPTIONS, PASSED_OPTIONS } from './options.js'
import { newToken } from './token.js'
import { transform, type Direction } from './transform.js'
import { readInput } from './yaml-io.js'

export async function runInject(direction: Direction, argv: readonly string[], version: string): Promise<number> {
  let args
  try {
    args = parseArgs(argv)
    if (direction === 'uninject' && args.settings.size > 0) throw new UsageError('uninject takes no settings: it undoes what inject recorded')
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`drainpipe ${direction}: ${err.message}\n`)
    return 2
  }
  if (args.help) {
    process.stdout.write(renderInjectHelp(direction, version))
    return 0
  }
  const files = args.positional.length > 0 ? args.positional : ['-']
  const outputs: string[] = []
  let failed = false
  for (const file of files) {
    const source = file === '-' ? 'stdin' : file
    try {
      const text = file === '-' ? await readStdin() : readFileSync(file, 'utf8')
      const input = readInput(text, source)
      const result = transform(input.docs, direction, { given: args.settings, version, newToken }, input.docs.map((_, i) => (input.docs.length > 1 ? `${source} #${i + 1}` : source)))
      for (const n of result.notes) process.stderr.write(`drainpipe ${direction}: note: ${n}\n`)
      for (const e of result.errors) process.stderr.write(`drainpipe ${direction}: error: ${e.message}\n`)
      if (result.errors.length > 0) failed = true
      else outputs.push(input.render(result.docs))
    } catch (err) {
      if (err instanceof InjectError) {
        process.stderr.write(`drainpipe ${direction}: error: ${err.message}\n`)
        failed = true
      } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        process.stderr.write(`drainpipe ${direction}: error: ${source}: no such file\n`)
        failed = true
      } else throw err
    }
  }
  if (failed) {
    process.stderr.write(`drainpipe ${direction}: nothing written: fix the errors above and run again\n`)
    return 1
  }
  process.stdout.write(outputs.map((o, i) => (i > 0 && !o.startsWith('---') && !o.startsWith('{') && !o.startsWith('[') ? `---\n${o}` : o)).join(''))
  return 0
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export function renderInjectHelp(direction: Direction, version: string): string {
  if (direction === 'uninject') {
    return [`drainpipe ${version}`, '', 'Usage: drainpipe uninject [FILE ...]   (no FILE, or -: stdin)', '',
      'Removes what `drainpipe inject` added, from the drainpipe.io/undo annotation it left, and writes the', 'manifests to stdout.', ''].join('\n')
  }
  const lines = [`drainpipe ${version}`, '', 'Usage: drainpipe inject [--setting VALUE ...] [FILE ...]   (no FILE, or -: stdin)', '',
    'Adds drainpipe to every pod template of the Kubernetes YAML or JSON it reads (Pod, Deployment,',
    'StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List) and writes it to stdout. Each setting is',
    'also a pod annotation, drainpipe.io/SETTING, which wins over the flag. Settings:', '']
  for (const o of INJECT_OPTIONS) {
    lines.push(`  --${o.flag} ${o.placeholder} (default ${o.default || o.defaultFrom})`, `      ${o.help}`)
  }
  lines.push('', '  and every drainpipe option but --listen, --upstream, --grace-period, --admin-token (set by inject):')
  lines.push(`  ${PASSED_OPTIONS.map((o) => `--${o.flag}`).join(' ')}`, '  (see drainpipe --help)', '')
  return lines.join('\n')
}
