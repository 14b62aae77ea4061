// --help and docs/configuration.md's reference table, generated from the option table.
import { OPTIONS, type OptionSpec } from '../config.js'

// OPTIONS is read inside the functions: config.ts re-exports this module, so it is not yet
// initialised while this one loads.
const options = (): readonly OptionSpec[] => OPTIONS

export function renderHelp(version: string): string {
  const lines = [
    `drainpipe ${version}: graceful-shutdown sidecar for pods behind AWS load balancers`,
    '',
    'Usage: drainpipe [--flag VALUE ...]     every flag also reads DRAINPIPE_<FLAG> from the environment; the flag wins',
  ]
  let section = ''
  for (const o of options()) {
    if (o.section !== section) {
      section = o.section
      lines.push('', `${section}:`)
    }
    const def = o.default !== '' ? ` (default ${o.default})` : o.defaultFrom ? ` (default ${o.defaultFrom})` : ''
    lines.push(`  --${o.flag} ${o.placeholder}${def}${o.repeatable ? ' [repeatable]' : ''}`)
    lines.push(...wrap(o.help, 72).map((l) => `      ${l}`))
  }
  lines.push('', '  --help      print this and exit', '  --version   print the version and exit', '')
  return lines.join('\n')
}

/** docs/configuration.md's reference, generated from the table. */
export function renderMarkdown(): string {
  const rows = ['| flag | environment | default | what it does |', '| --- | --- | --- | --- |']
  for (const o of options()) {
    const def = o.default !== '' ? `\`${o.default}\`` : o.defaultFrom ? o.defaultFrom.replace(/(\$\w+|--[\w-]+)/g, '`$1`') : 'unset'
    rows.push(`| \`--${o.flag} ${o.placeholder}\` | \`${o.env}\` | ${def} | ${o.help.replace(/\|/g, '\\|')} |`)
  }
  return rows.join('\n')
}

function wrap(text: string, width: number): string[] {
  const out: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) out.push(line)
  return out
}
