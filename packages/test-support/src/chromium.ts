import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

/** The headless browser on this machine (installed by scripts/install-test-deps.sh), or undefined. */
export function chromiumPath(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv && existsSync(fromEnv)) return fromEnv
  return CANDIDATES.find((p) => existsSync(p))
}

/**
 * Loads `url` in headless Chromium, as a person's browser would (Accept: text/html), and returns a
 * PNG screenshot. A fresh profile each time, and no network of its own beyond the page.
 */
export async function screenshot(url: string, opts: { width?: number; height?: number } = {}): Promise<Buffer> {
  const chromium = chromiumPath()
  if (!chromium) throw new Error('chromium is not installed (scripts/install-test-deps.sh installs it)')
  const dir = mkdtempSync(join(tmpdir(), 'chromium-'))
  const file = join(dir, 'page.png')
  try {
    await run(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${join(dir, 'profile')}`,
        `--window-size=${opts.width ?? 900},${opts.height ?? 1100}`,
        `--screenshot=${file}`,
        url,
      ],
      { timeout: 60_000 },
    )
    return readFileSync(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
