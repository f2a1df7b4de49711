import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The directory that holds everything `npm start` keeps between runs: secrets, the embedded
 * Postgres cluster, the private Redis's AOF. Only its owner may read it; when we run as root the
 * embedded Postgres runs as an unprivileged user that must be able to pass through it (execute bit
 * only: it still cannot list or read the secrets).
 */
export function openStateDir(dir: string, opts: { traversableByOthers: boolean }): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, opts.traversableByOthers ? 0o711 : 0o700)
  return dir
}

/** A secret generated on first use and read back on every later start, so keys and data stay reachable. */
export function persistentSecret(dir: string, name: string, make: () => string): string {
  const file = join(dir, name)
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  const value = make()
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return value
}
