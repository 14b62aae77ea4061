// What a process costs, read from /proc: CPU time (utime + stime of every thread, in clock
// ticks of 10 ms) and resident memory.
import { readFileSync } from 'node:fs'

const TICK_S = 0.01 // USER_HZ is 100 on Linux

/** CPU seconds the process has used so far, all threads: user, system (kernel) and both. */
export function cpuTimes(pid: number): { user: number; sys: number; total: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Field 2 (comm) may hold spaces; count from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const user = Number(fields[11]) * TICK_S // utime, field 14 of stat(5)
  const sys = Number(fields[12]) * TICK_S // stime, field 15
  return { user, sys, total: user + sys }
}

/** CPU seconds the process has used so far (user + system, all threads). */
export function cpuSeconds(pid: number): number {
  return cpuTimes(pid).total
}

/** Resident set size now and its peak (VmHWM), KiB. */
export function rssKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}
