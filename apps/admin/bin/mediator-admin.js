#!/usr/bin/env node
// The `mediator-admin` command. npm links this file into node_modules/.bin at `npm ci`, so it must be
// plain JavaScript: it runs the TypeScript sources through tsx when tsx is installed (a checkout,
// right after `npm ci`, always the current code), and the compiled dist/main.js otherwise (an
// image installed without dev dependencies). Both run in this process: exit codes and signals are
// the command's own.
import { existsSync } from 'node:fs'
import { register } from 'node:module'
import process from 'node:process'
import { URL } from 'node:url'

const source = new URL('../src/main.ts', import.meta.url)
const compiled = new URL('../dist/main.js', import.meta.url)

async function loadTsx() {
  try {
    return await import('tsx/esm/api')
  } catch {
    return undefined
  }
}

const tsx = existsSync(source) ? await loadTsx() : undefined
if (tsx) {
  tsx.register()
  // Registered after tsx, so it runs first: the workspace packages resolve to their sources too.
  register('./source-condition.js', import.meta.url)
  await import(source.href)
} else if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  process.stderr.write('mediator-admin: neither tsx nor a build was found; run `npm ci` or `npm run build`\n')
  process.exitCode = 1
}
