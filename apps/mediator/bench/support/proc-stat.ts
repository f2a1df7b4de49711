import { execSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100
const PAGE_SIZE = Number(execSync('getconf PAGESIZE').toString().trim()) || 4096

/** proc(5) stat fields after the command name (which may itself contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(') ') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** utime + stime of a process in ms; 0 for a process that is gone. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid)
  // Fields 14 (utime) and 15 (stime) of proc(5) are at 11 and 12 after the name.
  return fields ? ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK : 0
}

/** Resident set size in bytes; 0 for a process that is gone. */
export function rssBytes(pid: number): number {
  const fields = statFields(pid)
  return fields ? Number(fields[21]) * PAGE_SIZE : 0
}

/** Every live child of `parentPid` (one level): a Postgres postmaster's backends, for instance. */
export function childPids(parentPid: number): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(Number(entry))
    if (fields && Number(fields[1]) === parentPid) pids.push(Number(entry))
  }
  return pids
}

/** Open file descriptors of a process (what the 20,000 limit counts). */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}
