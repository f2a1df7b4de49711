import { DeadLetters, type DeadLetter, type DeadLetterFilter, type PurgeOutcome, type ReplayOutcome } from '@mediator/redis'
import type { ClusterConnections } from '../connections.js'
import { AdminError, ExitCode, NotFoundError, UsageError } from '../errors.js'
import { table, truncate, type Output } from '../output.js'
import { parseKeyArg } from '../recipient-keys.js'
import { formatDuration, parseTimeArg } from '../time.js'
import type { Prompt } from '../prompt.js'
import { FILTER_FLAG_NAMES, type FilterFlags } from '../filter-flags.js'

const KINDS = ['message', 'socket-opened', 'socket-closed']

export async function toFilter(flags: FilterFlags, now: number, defaultLimit?: number): Promise<DeadLetterFilter> {
  const filter: { -readonly [K in keyof DeadLetterFilter]: DeadLetterFilter[K] } = {}
  if (flags.since !== undefined) filter.since = parseTimeArg('since', flags.since, now)
  if (flags.until !== undefined) filter.until = parseTimeArg('until', flags.until, now)
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new UsageError('--since is later than --until: nothing can match')
  }
  if (flags.error !== undefined) {
    if (flags.error.trim() === '') throw new UsageError('--error needs some text to look for')
    filter.error = flags.error
  }
  if (flags.recipient !== undefined) {
    const key = await parseKeyArg(flags.recipient)
    filter.recipient = [key.base58, key.didKey]
  }
  if (flags.connection !== undefined) filter.connectionId = flags.connection
  if (flags.relay !== undefined) filter.relayId = flags.relay
  if (flags.socket !== undefined) filter.socketId = flags.socket
  if (flags.kind !== undefined) {
    if (!KINDS.includes(flags.kind)) throw new UsageError(`--kind '${flags.kind}': one of ${KINDS.join(', ')}`)
    filter.kind = flags.kind
  }
  if (flags.limit !== undefined) {
    if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1) throw new UsageError(`--limit '${flags.limit}': a whole number of at least 1`)
    filter.limit = Number(flags.limit)
  } else if (defaultLimit !== undefined) filter.limit = defaultLimit
  return filter
}

function hasSelection(flags: FilterFlags): boolean {
  return FILTER_FLAG_NAMES.some((name) => flags[name] !== undefined)
}

export interface DeadLetterCommandOptions {
  readonly args: readonly string[]
  readonly flags: FilterFlags & { all?: boolean; yes?: boolean }
  readonly prompt: Prompt
}

/** `dead-letters list | show | replay | purge`. */
export async function deadLettersCommand(c: ClusterConnections, out: Output, options: DeadLetterCommandOptions): Promise<void> {
  const [action, ...rest] = options.args
  const store = new DeadLetters(c.redis, c.keys)
  try {
    switch (action) {
      case 'list':
        return await list(store, out, rest, options.flags)
      case 'show':
        return await show(store, out, rest)
      case 'replay':
      case 'purge':
        return await act(action, store, out, rest, options)
      default:
        throw new UsageError(action ? `unknown dead-letters action '${action}': list, show, replay or purge` : 'dead-letters needs an action: list, show, replay or purge')
    }
  } finally {
    await store.close()
  }
}

async function list(store: DeadLetters, out: Output, rest: readonly string[], flags: FilterFlags): Promise<void> {
  if (rest.length > 0) throw new UsageError(`dead-letters list takes no ids (got '${rest.join(' ')}'); use show <id>`)
  const now = Date.now()
  const [letters, total] = await Promise.all([store.list(await toFilter(flags, now, 50)), store.count()])
  out.result({ total, shown: letters.length, deadLetters: letters }, (r) => {
    out.line(`${r.shown} shown of ${r.total} dead letters (newest failure first)`)
    if (r.deadLetters.length === 0) return
    for (const l of table(['id', 'failed', 'kind', 'attempts', 'relay', 'reason'], r.deadLetters.map((d) => row(d, now)))) out.line(l)
  })
}

function row(d: DeadLetter, now: number): string[] {
  return [d.id, d.failedAt === undefined ? '-' : `${formatDuration(now - d.failedAt)} ago`, d.kind, String(d.attemptsMade), d.relayId ?? '-', truncate(d.failedReason, 90)]
}

async function show(store: DeadLetters, out: Output, rest: readonly string[]): Promise<void> {
  if (rest.length !== 1 || !rest[0]) throw new UsageError('dead-letters show takes one id')
  const letter = await store.get(rest[0])
  if (!letter) throw new NotFoundError(`no dead letter with id ${rest[0]}`)
  out.result(letter, (d) => {
    const at = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString())
    out.line(`id           ${d.id}`)
    out.line(`kind         ${d.kind}`)
    out.line(`queued       ${at(d.queuedAt)}`)
    out.line(`failed       ${at(d.failedAt)} after ${d.attemptsMade} attempt(s)`)
    out.line(`reason       ${d.failedReason}`)
    out.line(`relay        ${d.relayId ?? '-'}  socket ${d.socketId ?? '-'}  transport ${d.transport ?? '-'}`)
    if (d.envelope) out.line(`envelope     ${d.envelope.alg ?? '?'} to ${d.envelope.recipientKids.join(', ') || '-'}`)
    if (d.stacktrace.length > 0) out.line(`stack        ${truncate(d.stacktrace[d.stacktrace.length - 1] ?? '', 400)}`)
    out.line('data (--json prints all of it):')
    out.line(truncate(JSON.stringify(d.data), 600))
  })
}

async function act(
  action: 'replay' | 'purge',
  store: DeadLetters,
  out: Output,
  ids: readonly string[],
  options: DeadLetterCommandOptions,
): Promise<void> {
  const { flags } = options
  if (ids.length > 0 && (flags.all || hasSelection(flags))) {
    throw new UsageError(`dead-letters ${action}: give ids or --all with filters, not both`)
  }
  if (ids.length === 0 && !flags.all) {
    throw new UsageError(`dead-letters ${action} needs ids, or --all (with filters such as --error, --since) for every match`)
  }
  const selected = ids.length > 0 ? [...new Set(ids)] : (await store.list(await toFilter(flags, Date.now()))).map((d) => d.id)
  if (action === 'purge' && selected.length > 0 && !flags.yes) {
    const confirmed = await options.prompt.confirm(`Remove ${selected.length} dead letter(s) for good? [y/N] `)
    if (!confirmed) throw new AdminError(`purge of ${selected.length} dead letter(s) not confirmed: nothing removed (add --yes to skip the question)`, ExitCode.notConfirmed)
  }
  const outcomes: Array<ReplayOutcome | PurgeOutcome> = action === 'replay' ? await store.replay(selected) : await store.purge(selected)
  const done = outcomes.filter((o) => o.outcome === 'replayed' || o.outcome === 'purged').length
  const missed = outcomes.filter((o) => o.outcome === 'not-found' || o.outcome === 'not-dead')
  out.result({ action, requested: selected.length, done, outcomes }, (r) => {
    const verb = action === 'replay' ? 'replayed' : 'purged'
    out.line(`${r.done} of ${r.requested} dead letter(s) ${verb}`)
    for (const o of missed) out.line(`  ${o.id}: ${o.outcome === 'not-found' ? 'no such job' : `not a dead letter (now ${o.state})`}`)
  })
  if (missed.length > 0) {
    const names = missed.map((o) => o.id).join(', ')
    throw new AdminError(`${missed.length} id(s) named no dead letter: ${names}`, ExitCode.notFound, true)
  }
}
