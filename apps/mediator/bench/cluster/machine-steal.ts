import { readFileSync } from 'node:fs'

/** The machine's CPU time so far, in clock ticks: all of it, and what the hypervisor took (steal). */
export interface CpuTicks {
  total: number
  steal: number
}

/**
 * Reads the aggregate `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal ...).
 * On a virtual machine, steal is time a vCPU was ready to run and the host ran something else: the
 * same run can take twice as long on a day the host is busy, and this is how a report says so.
 * Undefined where there is no /proc/stat.
 */
export function readCpuTicks(path = '/proc/stat'): CpuTicks | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (!line) return undefined
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number)
  if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return undefined
  return { total: ticks.reduce((s, t) => s + t, 0), steal: ticks[7] as number }
}

/** The share of CPU time stolen between two readings, in percent (one decimal). */
export function stealPercent(start: CpuTicks | undefined, end: CpuTicks | undefined): number | undefined {
  if (!start || !end || end.total <= start.total) return undefined
  return Math.round((1000 * (end.steal - start.steal)) / (end.total - start.total)) / 10
}
