import { UsageError } from './errors.js'

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * A point in time from the command line: a duration back from now (`90s`, `15m`, `2h`, `7d`, `1w`)
 * or an ISO 8601 date. Anything else is a usage error naming the flag.
 */
export function parseTimeArg(flag: string, value: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value.trim())
  if (duration) return now - Number(duration[1]) * (UNITS[duration[2] ?? 's'] ?? 1_000)
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value)
    if (Number.isFinite(at)) return at
  }
  throw new UsageError(`--${flag} '${value}': give a duration back from now (90s, 15m, 2h, 7d, 1w) or an ISO date (2026-12-01T10:00Z)`)
}

/** A duration as people read it: `4s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}
