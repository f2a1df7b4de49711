import { parseArgs } from 'node:util'
import type { Readable, Writable } from 'node:stream'
import { AdminError, ExitCode, UsageError } from './errors.js'
import { GENERAL_HELP } from './help.js'
import { createOutput, type Output } from './output.js'
import { terminalPrompt, type Prompt } from './prompt.js'
import { loadSettings, settingFlags } from './settings.js'
import { FILTER_FLAG_NAMES } from './filter-flags.js'

export interface CliIo {
  readonly env: Record<string, string | undefined>
  readonly stdout: Writable
  readonly stderr: Writable
  readonly stdin?: Readable & { isTTY?: boolean }
  /** Answers purge's question; a terminal prompt on stdin by default. */
  readonly prompt?: Prompt
}

const stringFlags = [...Object.keys(settingFlags), ...FILTER_FLAG_NAMES] as const
const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  all: { type: 'boolean' },
  yes: { type: 'boolean' },
  ...Object.fromEntries(stringFlags.map((name) => [name, { type: 'string' }])),
} as const satisfies NonNullable<Parameters<typeof parseArgs>[0]>['options']

/** Flags each command accepts besides --json, --help and the connection flags. */
const commandFlags: Record<string, readonly string[]> = {
  status: [],
  'dead-letters': [...FILTER_FLAG_NAMES, 'all', 'yes'],
  queue: [],
  invitation: [],
}

type Flags = Record<string, string | boolean | undefined>

/** Runs one command line; resolves to the exit code. Every error becomes one line on stderr. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let out: Output = createOutput(io.stdout, argv.includes('--json'))
  try {
    let parsed: { values: Flags; positionals: string[] }
    try {
      parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as typeof parsed
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]} (see --help)`)
    }
    const { values, positionals } = parsed
    out = createOutput(io.stdout, values.json === true)
    const [command, ...args] = positionals
    if (values.help || command === 'help' || command === undefined) {
      io.stdout.write(GENERAL_HELP)
      return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok
    }
    const allowed = commandFlags[command]
    if (!allowed) throw new UsageError(`unknown command '${command}' (see --help)`)
    for (const [flag, value] of Object.entries(values)) {
      if (value === undefined || flag === 'json' || flag in settingFlags) continue
      if (!allowed.includes(flag)) throw new UsageError(`--${flag} does not apply to ${command} (see --help)`)
    }
    const settings = loadSettings(io.env, pick(values, Object.keys(settingFlags)))
    if (command === 'invitation' && args.length > 0) throw new UsageError('invitation takes no arguments')
    // Loaded here, not at start: --help and a bad command line answer without loading BullMQ or Credo.
    const { ClusterConnections } = await import('./connections.js')
    const connections = await ClusterConnections.open(settings)
    try {
      if (command === 'status') await (await import('./commands/status.js')).statusCommand(connections, out)
      else if (command === 'queue') await (await import('./commands/queue.js')).queueCommand(connections, out, args)
      else if (command === 'invitation') await (await import('./commands/invitation.js')).invitationCommand(connections, out)
      else {
        const { deadLettersCommand } = await import('./commands/dead-letters.js')
        await deadLettersCommand(connections, out, {
          args,
          flags: { ...pick(values, FILTER_FLAG_NAMES), all: values.all === true, yes: values.yes === true },
          prompt: io.prompt ?? terminalPrompt(io.stdin ?? process.stdin, io.stderr),
        })
      }
    } finally {
      await connections.close()
    }
    return ExitCode.ok
  } catch (error) {
    const known = error instanceof AdminError
    const message = known ? error.message : `unexpected error: ${(error as Error)?.message ?? String(error)}`
    const code = known ? error.exitCode : ExitCode.failed
    io.stderr.write(`mediator-admin: ${message}\n`)
    if (out.json && !(known && error.afterResult)) io.stdout.write(`${JSON.stringify({ error: { message, exitCode: code } })}\n`)
    return code
  }
}

function pick(values: Flags, names: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {}
  for (const name of names) {
    const value = values[name]
    if (typeof value === 'string') picked[name] = value
  }
  return picked
}
