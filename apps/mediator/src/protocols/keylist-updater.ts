import type { AgentContext } from '@credo-ts/core'
import {
  DidCommKeylistUpdateResult,
  DidCommKeylistUpdated,
  DidCommMediationRepository,
  DidCommMediationRole,
  type DidCommKeylistUpdateAction,
  type DidCommMediationRecord,
} from '@credo-ts/didcomm'
import { z } from 'zod'
import { RecordConcurrencyError, retryOnConflict } from '@mediator/storage-postgres'
import type { Logger } from '@mediator/config'
import type { ProtocolMetrics } from './protocol-metrics.js'
import { isEncryptableEd25519Key, parseRecipientKey } from '@mediator/credo-runtime'

const updateEntrySchema = z.object({
  recipient_key: z.string().min(1).max(512),
  action: z.enum(['add', 'remove']),
})

/** One entry of a keylist-update after validation: either applicable or already answered. */
type PlannedUpdate =
  | { kind: 'apply'; echoKey: string; action: 'add' | 'remove'; base58: string }
  | { kind: 'answered'; echoKey: string; action: string; result: DidCommKeylistUpdateResult; reason: string }

export interface KeylistUpdaterOptions {
  metrics: ProtocolMetrics
  logger: Logger
  /** Tries of the read-modify-write when another worker updated the record in between. */
  conflictAttempts?: number
}

/**
 * Applies keylist-update entries to a wallet's mediation record with every RFC 0211 result:
 * `success`, `no_change` (adding a key already there, removing one that is not), `client_error` (a
 * malformed entry or key, an unknown action, a key another wallet registered) and `server_error` (the
 * record could not be read or written). Keys are stored as canonical base58, which is what Credo's
 * forward lookup and ours query the `recipientKeys` tag with.
 *
 * The update is a read-modify-write of one record that several workers may write at once (a wallet
 * sends keylist updates for several connections in parallel): on a stale write the storage raises
 * RecordConcurrencyError and the whole step runs again on a fresh read, so no key is lost.
 */
export class KeylistUpdater {
  private readonly conflictAttempts: number
  /** The update in progress per mediation record in this process; later ones wait for it. */
  private readonly inProgress = new Map<string, Promise<unknown>>()

  public constructor(private readonly options: KeylistUpdaterOptions) {
    this.conflictAttempts = options.conflictAttempts ?? 20
  }

  /** Validates the raw entries. Entries that cannot be applied are answered here already. */
  public plan(rawUpdates: readonly unknown[]): PlannedUpdate[] {
    return rawUpdates.map((raw): PlannedUpdate => {
      const entry = updateEntrySchema.safeParse(raw)
      if (!entry.success) {
        const fields = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>
        return {
          kind: 'answered',
          echoKey: typeof fields.recipient_key === 'string' ? fields.recipient_key : '',
          action: typeof fields.action === 'string' ? fields.action : '',
          result: DidCommKeylistUpdateResult.ClientError,
          reason: entry.error.issues.map((issue) => `${issue.path.join('.') || 'entry'}: ${issue.message}`).join('; '),
        }
      }
      const { recipient_key: echoKey, action } = entry.data
      const key = parseRecipientKey(echoKey)
      if (!key.ok) return { kind: 'answered', echoKey, action, result: DidCommKeylistUpdateResult.ClientError, reason: key.reason }
      // Only an added key must be usable; removing a bad key that somehow got stored stays possible.
      if (action === 'add' && !isEncryptableEd25519Key(key.base58)) {
        const reason = 'not a point on the Ed25519 curve'
        return { kind: 'answered', echoKey, action, result: DidCommKeylistUpdateResult.ClientError, reason }
      }
      return { kind: 'apply', echoKey, action, base58: key.base58 }
    })
  }

  /**
   * Updates of one record made in this process run one after the other: they would only conflict with
   * each other and be redone. Updates from other workers still race, and are retried.
   */
  public async apply(
    agentContext: AgentContext,
    record: DidCommMediationRecord,
    planned: readonly PlannedUpdate[],
    log: Logger,
  ): Promise<DidCommKeylistUpdated[]> {
    const previous = this.inProgress.get(record.id)
    const run = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.applyWithRetries(agentContext, record, planned, log, previous !== undefined))
    this.inProgress.set(record.id, run)
    try {
      return await run
    } finally {
      if (this.inProgress.get(record.id) === run) this.inProgress.delete(record.id)
    }
  }

  private async applyWithRetries(
    agentContext: AgentContext,
    record: DidCommMediationRecord,
    planned: readonly PlannedUpdate[],
    log: Logger,
    waited: boolean,
  ): Promise<DidCommKeylistUpdated[]> {
    let results: Array<{ result: DidCommKeylistUpdateResult; reason?: string }>
    try {
      results = await retryOnConflict(
        async (attempt) => {
          if (attempt > 1) this.options.metrics.keylistConflictRetries.inc()
          // A fresh read on every retry (a stale copy would conflict again), and after waiting for an
          // update of the same record in this process (the copy read before is stale for sure).
          const current = attempt === 1 && !waited ? record : await this.reload(agentContext, record.id)
          return this.applyOnce(agentContext, current, planned)
        },
        { attempts: this.conflictAttempts, backoffMs: (attempt) => Math.random() * 10 * attempt },
      )
      results = await this.letGoOfContestedKeys(agentContext, record.id, planned, results, log)
    } catch (error) {
      const conflict = error instanceof RecordConcurrencyError
      log.error({ err: error, conflict }, 'keylist update could not be stored; answering server_error')
      results = planned.map((p) =>
        p.kind === 'answered' ? { result: p.result } : { result: DidCommKeylistUpdateResult.ServerError },
      )
    }

    return planned.map((p, i) => {
      const outcome = results[i] ?? { result: DidCommKeylistUpdateResult.ServerError }
      const reason = p.kind === 'answered' ? p.reason : outcome.reason
      this.options.metrics.keylistUpdates.inc({ action: p.action === 'add' || p.action === 'remove' ? p.action : 'invalid', result: outcome.result })
      if (outcome.result === DidCommKeylistUpdateResult.ClientError) {
        log.info({ recipientKey: p.echoKey, action: p.action, reason }, 'keylist update entry refused')
      }
      return new DidCommKeylistUpdated({
        recipientKey: p.echoKey,
        // Echoes what the wallet sent, even an action the RFC does not define (answered client_error).
        action: p.action as DidCommKeylistUpdateAction,
        result: outcome.result,
      })
    })
  }

  private async reload(agentContext: AgentContext, id: string): Promise<DidCommMediationRecord> {
    return agentContext.resolve(DidCommMediationRepository).getById(agentContext, id)
  }

  private async applyOnce(
    agentContext: AgentContext,
    record: DidCommMediationRecord,
    planned: readonly PlannedUpdate[],
  ): Promise<Array<{ result: DidCommKeylistUpdateResult; reason?: string }>> {
    const repository = agentContext.resolve(DidCommMediationRepository)
    const keys = new Set(record.recipientKeys)
    const additions = planned.flatMap((p) => (p.kind === 'apply' && p.action === 'add' && !keys.has(p.base58) ? [p.base58] : []))
    const ownedElsewhere = await this.keysOfOtherWallets(agentContext, record.id, additions)

    let changed = false
    const results = planned.map((p) => {
      if (p.kind === 'answered') return { result: p.result }
      if (p.action === 'add') {
        if (keys.has(p.base58)) return { result: DidCommKeylistUpdateResult.NoChange }
        if (ownedElsewhere.has(p.base58)) {
          // Two records with one key would make every forward to it ambiguous (and unroutable).
          return { result: DidCommKeylistUpdateResult.ClientError, reason: 'key is registered by another connection' }
        }
        keys.add(p.base58)
        changed = true
        return { result: DidCommKeylistUpdateResult.Success }
      }
      if (!keys.delete(p.base58)) return { result: DidCommKeylistUpdateResult.NoChange }
      changed = true
      return { result: DidCommKeylistUpdateResult.Success }
    })

    if (changed) {
      record.recipientKeys = [...keys]
      await repository.update(agentContext, record)
    }
    return results
  }

  /**
   * Two wallets adding the same new key at the same instant both pass the check before the write. A
   * second look after our write settles it: of two such writers, the one that looks last sees the
   * other's write and lets go of the key (and if both look after both wrote, both let go, and the
   * wallets may try again). A key held by two records would make every forward to it ambiguous. The
   * letting go has its own retries: redoing the whole update would answer `no_change` for keys this
   * very update added.
   */
  private async letGoOfContestedKeys(
    agentContext: AgentContext,
    recordId: string,
    planned: readonly PlannedUpdate[],
    results: Array<{ result: DidCommKeylistUpdateResult; reason?: string }>,
    log: Logger,
  ): Promise<Array<{ result: DidCommKeylistUpdateResult; reason?: string }>> {
    const held = new Set([DidCommKeylistUpdateResult.Success, DidCommKeylistUpdateResult.NoChange])
    const added = planned.flatMap((p, i) =>
      p.kind === 'apply' && p.action === 'add' && held.has(results[i]?.result as DidCommKeylistUpdateResult) ? [p.base58] : [],
    )
    const contested = await this.keysOfOtherWallets(agentContext, recordId, added)
    if (contested.size === 0) return results
    const repository = agentContext.resolve(DidCommMediationRepository)
    let outcome: { result: DidCommKeylistUpdateResult; reason?: string } = {
      result: DidCommKeylistUpdateResult.ClientError,
      reason: 'key is registered by another connection',
    }
    try {
      await retryOnConflict(
        async () => {
          const current = await this.reload(agentContext, recordId)
          const kept = current.recipientKeys.filter((key) => !contested.has(key))
          if (kept.length === current.recipientKeys.length) return
          current.recipientKeys = kept
          await repository.update(agentContext, current)
        },
        { attempts: this.conflictAttempts, backoffMs: (attempt) => Math.random() * 10 * attempt },
      )
      this.options.metrics.keylistContested.inc(contested.size)
    } catch (error) {
      // The rest of the update stands; only these keys are in doubt, and the wallet is told so.
      log.error({ err: error, keys: [...contested] }, 'could not give up keys another wallet added at once')
      outcome = { result: DidCommKeylistUpdateResult.ServerError }
    }
    return planned.map((p, i) =>
      p.kind === 'apply' && p.action === 'add' && contested.has(p.base58)
        ? outcome
        : (results[i] ?? { result: DidCommKeylistUpdateResult.ServerError }),
    )
  }

  private async keysOfOtherWallets(agentContext: AgentContext, recordId: string, keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set()
    const repository = agentContext.resolve(DidCommMediationRepository)
    const others = await repository.findByQuery(agentContext, {
      role: DidCommMediationRole.Mediator,
      $or: keys.map((key) => ({ recipientKeys: [key] })),
    })
    const wanted = new Set(keys)
    return new Set(others.filter((r) => r.id !== recordId).flatMap((r) => r.recipientKeys.filter((k) => wanted.has(k))))
  }
}
