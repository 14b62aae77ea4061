// What a process costs, read from /proc: CPU time (utime + stime of every thread, in clock
// ticks of 10 ms) and resident memory.
import { readFileSync } from 'node:fs'

const TICK_S = 0.01 // USER_HZ is 100 on Linux

/** CPU seconds the process has used so far (user + system, all threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Field 2 (comm) may hold spaces; count from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_S // fields 14 and 15 of stat(5)
}

/** Resident set size now and its peak (VmHWM), KiB. */
export function rssKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}
