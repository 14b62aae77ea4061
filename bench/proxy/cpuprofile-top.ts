// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: the top
// functions by self time, and self time summed by module (drainpipe file, node: internal,
// package), as shares of all samples.
//
//   node build/proxy/cpuprofile-top.js <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileTop {
  /** Busy time sampled (idle excluded), ms. */
  totalMs: number
  idleMs: number
  functions: Array<{ name: string; where: string; selfMs: number; share: number }>
  modules: Array<{ module: string; selfMs: number; share: number }>
}

export function moduleOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)'
  if (url.startsWith('node:')) return url
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const dist = url.indexOf('/dist/')
  if (dist >= 0) return `drainpipe:${url.slice(dist + 6)}`
  return url.replace(/^file:\/\//, '')
}

export function topOfProfile(p: Profile, top = 25): ProfileTop {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0))
  // Shares are of busy time: idle samples (waiting in epoll) are left out.
  const idle = p.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (self.get(n.id) ?? 0), 0)
  for (const n of p.nodes) if (n.callFrame.functionName === '(idle)') self.delete(n.id)
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const fns = new Map<string, { name: string; where: string; us: number }>()
  const mods = new Map<string, number>()
  for (const [id, us] of self) {
    const n = byId.get(id)!
    const { functionName, url, lineNumber } = n.callFrame
    const name = functionName || '(anonymous)'
    const where = url ? `${url.replace(/^file:\/\/.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''
    const key = `${name} ${where}`
    const f = fns.get(key) ?? { name, where, us: 0 }
    f.us += us
    fns.set(key, f)
    const m = moduleOf(url, name)
    mods.set(m, (mods.get(m) ?? 0) + us)
  }
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, share: f.us / total })),
    modules: [...mods.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ module, selfMs: us / 1000, share: us / total })),
  }
}

export function renderTop(t: ProfileTop): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`
  return [
    `${t.totalMs.toFixed(0)} ms busy sampled (${t.idleMs.toFixed(0)} ms idle left out); shares are of busy time`,
    'self time by module:',
    ...t.modules.map((m) => `  ${pct(m.share)}  ${m.module}`),
    'self time by function:',
    ...t.functions.map((f) => `  ${pct(f.share)}  ${f.name}  ${f.where}`),
  ].join('\n')
}

if (process.argv[1]?.endsWith('cpuprofile-top.js')) {
  const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Profile
  process.stdout.write(`${renderTop(topOfProfile(p, Number(process.argv[3] ?? 25)))}\n`)
}
