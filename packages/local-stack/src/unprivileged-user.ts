import { execFileSync, spawnSync } from 'node:child_process'
import { userInfo } from 'node:os'

export interface RunAs {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

/** The system user the embedded Postgres runs as when we are root (Postgres refuses to run as root). */
export const EMBEDDED_POSTGRES_USER = 'mediator-pg'

export function runningAsRoot(): boolean {
  return userInfo().uid === 0
}

function idOf(name: string, flag: '-u' | '-g'): number | undefined {
  const result = spawnSync('id', [flag, name], { encoding: 'utf8' })
  if (result.status !== 0) return undefined
  const id = Number(result.stdout.trim())
  return Number.isInteger(id) ? id : undefined
}

/**
 * As root: a dedicated system user without a home or a login shell, created on first use, so that the
 * embedded Postgres owns only its own data directory and nothing else on the machine.
 */
export function ensureUnprivilegedUser(name = EMBEDDED_POSTGRES_USER): RunAs {
  if (idOf(name, '-u') === undefined) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    } catch (error) {
      throw new Error(
        `the embedded Postgres cannot run as root and the user '${name}' to run it as could not be created ` +
          `(${(error as Error).message.trim()}); run npm start as a normal user, or set DATABASE_URL`,
      )
    }
  }
  const uid = idOf(name, '-u')
  const gid = idOf(name, '-g')
  if (uid === undefined || gid === undefined) throw new Error(`no uid/gid for the user '${name}'`)
  return { name, uid, gid }
}

/**
 * Whether `user` can run `executable` and write into `dir`: a checkout under a private home (/root is
 * 0700) is out of its reach, and Postgres would fail later with a less helpful message.
 */
export function assertReachable(user: RunAs, executable: string, dir: string): void {
  const check = spawnSync('/bin/sh', ['-c', 'test -x "$1" && test -w "$2"', 'sh', executable, dir], { uid: user.uid, gid: user.gid })
  if (check.status !== 0) {
    throw new Error(
      `the embedded Postgres runs as the unprivileged user '${user.name}' (Postgres refuses root), which cannot ` +
        `reach ${executable} or ${dir}: a directory above them is not searchable by others (e.g. /root). ` +
        `Run npm start as a normal user, move the checkout (or LOCAL_STATE_DIR) to a searchable place, or set DATABASE_URL.`,
    )
  }
}
