import { PickupQueueInspector, type PickupQueueSnapshot } from '@mediator/redis'
import type { ClusterConnections } from '../connections.js'
import { NotFoundError, UsageError } from '../errors.js'
import { table, type Output } from '../output.js'
import { looksLikeKey, parseKeyArg, type RecipientKey } from '../recipient-keys.js'
import { findConnection, mediationsOfKey, type ConnectionRecordSummary } from '../records.js'
import { formatDuration } from '../time.js'

export interface WalletQueue {
  connectionId: string
  /** Pending + leased: everything held for the wallet. */
  count: number
  pending: number
  leased: number
  /** Leased messages whose lease ran out: they go out again at the next take or lease sweep. */
  leaseRunOut: number
  bytes: number
  oldestMessageAgeMs?: number
  /** With a key: the pending messages for that key (a wallet may route several keys). */
  pendingForKey?: number
  recipientDids: readonly string[]
  mediationState?: string
  connection?: ConnectionRecordSummary
}

export interface QueueReport {
  /** What was asked for: a connection id, or a key in both spellings. */
  query: { connectionId: string } | { recipientKey: RecipientKey }
  queues: WalletQueue[]
}

const connectionIdPattern = /^[A-Za-z0-9._:-]{1,200}$/

/** One wallet's pickup queue, by connection id or by a recipient key it registered. */
export async function readWalletQueue(c: ClusterConnections, target: string): Promise<QueueReport> {
  const inspector = new PickupQueueInspector(c.redis, c.keys)
  if (looksLikeKey(target)) {
    const key = await parseKeyArg(target)
    const mediations = await mediationsOfKey(await c.postgres(), key.base58)
    if (mediations.length === 0) throw new NotFoundError(`no wallet registered recipient key ${key.base58} (${key.didKey})`)
    const queues: WalletQueue[] = []
    for (const m of mediations) {
      const snapshot = await inspector.connection(m.connectionId)
      const pendingForKey = await inspector.pendingForRecipient(m.connectionId, key.didKey)
      queues.push({ ...toWalletQueue(snapshot), pendingForKey, ...(m.state ? { mediationState: m.state } : {}) })
    }
    return { query: { recipientKey: key }, queues }
  }
  if (!connectionIdPattern.test(target)) {
    throw new UsageError(`'${target}' is neither a connection id nor a recipient key (did:key or base58)`)
  }
  const snapshot = await inspector.connection(target)
  const held = snapshot.pending + snapshot.leased > 0
  let connection: ConnectionRecordSummary | undefined
  try {
    connection = await findConnection(await c.postgres(), target)
  } catch (error) {
    // What Redis holds is the answer; the record only adds to it, so a Postgres outage does not hide it.
    if (!held) throw error
  }
  if (!connection && !held) throw new NotFoundError(`unknown connection ${target}: no connection record and no queued message`)
  return { query: { connectionId: target }, queues: [{ ...toWalletQueue(snapshot), ...(connection ? { connection } : {}) }] }
}

function toWalletQueue(s: PickupQueueSnapshot): WalletQueue {
  return {
    connectionId: s.connectionId,
    count: s.pending + s.leased,
    pending: s.pending,
    leased: s.leased,
    leaseRunOut: s.leaseRunOut,
    bytes: s.bytes,
    ...(s.oldestQueuedAt !== undefined ? { oldestMessageAgeMs: Math.max(0, s.at - s.oldestQueuedAt) } : {}),
    recipientDids: s.recipientDids,
  }
}

export async function queueCommand(c: ClusterConnections, out: Output, args: readonly string[]): Promise<void> {
  if (args.length !== 1 || !args[0]) throw new UsageError('queue takes one connection id or recipient key')
  const report = await readWalletQueue(c, args[0])
  out.result(report, (r) => {
    if ('recipientKey' in r.query) out.line(`recipient key ${r.query.recipientKey.base58} (${r.query.recipientKey.didKey})`)
    const rows = r.queues.map((q) => [
      q.connectionId,
      String(q.count),
      String(q.pending),
      String(q.leased),
      String(q.leaseRunOut),
      q.oldestMessageAgeMs === undefined ? '-' : formatDuration(q.oldestMessageAgeMs),
      String(q.bytes),
      q.pendingForKey === undefined ? '-' : String(q.pendingForKey),
      q.connection?.theirLabel ?? q.connection?.state ?? q.mediationState ?? '-',
    ])
    for (const l of table(['connection', 'count', 'pending', 'leased', 'run-out', 'oldest', 'bytes', 'for key', 'wallet'], rows)) out.line(l)
  })
}
