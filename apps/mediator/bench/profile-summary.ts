import { readFileSync } from 'node:fs'

interface CpuProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface CpuProfile {
  nodes: CpuProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileRow {
  name: string
  percent: number
}

/** Where a frame's code lives: an npm package, one of our workspaces, or Node itself. */
function area(url: string): string {
  if (url === '') return '(native/gc/idle)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg?.[1]) return pkg[1]
  const ours = /\/(apps|packages)\/([^/]+)\//.exec(url)
  if (ours) return `${ours[1]}/${ours[2]}`
  if (url.startsWith('node:')) return 'node internals'
  return url
}

/**
 * Self time of a V8 CPU profile (`--cpu-prof`), by function and by package, idle time excluded, in
 * percent of the busy samples: the "top frames" of docs/forward-path.md.
 */
export function summarizeProfile(
  path: string,
  top = 15,
  /** Only samples in this window (microseconds of the monotonic clock, as process.hrtime gives). */
  window?: { fromUs: number; toUs: number },
): { byFunction: ProfileRow[]; byArea: ProfileRow[]; busyMs: number } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const hits = new Map<number, number>()
  let at = profile.startTime
  const samples = profile.samples ?? []
  for (let i = 0; i < samples.length; i++) {
    at += profile.timeDeltas?.[i] ?? 0
    if (window && (at < window.fromUs || at > window.toUs)) continue
    const id = samples[i] as number
    hits.set(id, (hits.get(id) ?? 0) + 1)
  }
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  let busy = 0
  let total = 0
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0
    total += count
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)' || functionName === '(program)') continue
    busy += count
    const file = url.split('/').slice(-1)[0] ?? url
    const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1} [${area(url)}]`
    byFunction.set(name, (byFunction.get(name) ?? 0) + count)
    const where = functionName === '(garbage collector)' ? '(garbage collector)' : area(url)
    byArea.set(where, (byArea.get(where) ?? 0) + count)
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => ({ name, percent: Math.round((1000 * count) / Math.max(1, busy)) / 10 }))
  const durationMs = ((window ? window.toUs - window.fromUs : profile.endTime - profile.startTime) / 1000)
  return { byFunction: rows(byFunction), byArea: rows(byArea), busyMs: Math.round((durationMs * busy) / Math.max(1, total)) }
}
