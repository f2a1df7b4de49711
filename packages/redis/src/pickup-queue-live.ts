import type { QueuedDidCommMessage } from '@credo-ts/didcomm'
import { parseStoredLiveSessionEntry, type LiveSessionEntry } from './session-directory.js'

/** Where to look for the connection's live session, and how much to take for it. */
export interface LiveTakeOptions {
  /** The connection's live-session directory entry key: `LiveSessionDirectory.keys.entry(connectionId)`. */
  entryKey: string
  /** Messages to take under a lease when the wallet is live (a delivery batch). */
  limit: number
  /** The live delivery's token (see OrderedTakeOptions.liveToken). */
  token: string
}

/** What `addMessageAndTakeIfLive` did. */
export interface AddAndTakeResult {
  /** The queued message's id (or, for a repeated idempotent add, the id of the first add). */
  id: string
  /**
   * With `settlesOrder`: other connections whose live deliveries waited for the settled message and
   * are now due; the caller delivers them (as after InboundOrder.finish). Empty otherwise.
   */
  due: string[]
  /**
   * Present when the directory had an entry for the connection: where its live session is, and what
   * was taken for it under a lease (possibly nothing). The caller must deliver or release `messages`.
   */
  live?: { entry: LiveSessionEntry; messages: QueuedDidCommMessage[] }
}

/** What `takeForLive` found: the live session, if any, and what was taken for it under a lease. */
export interface LiveTake {
  entry?: LiveSessionEntry
  messages: QueuedDidCommMessage[]
}

/**
 * Parses a directory entry from HGETALL's flat field/value list. Undefined when it does not parse
 * (an older layout), which counts as no live session, as for the directory's own lookup.
 */
export function parseLiveEntryFields(fields: readonly string[]): LiveSessionEntry | undefined {
  const hash: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) hash[fields[i] as string] = fields[i + 1] as string
  return parseStoredLiveSessionEntry(hash)
}
