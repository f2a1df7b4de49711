import { UsageError } from './errors.js'

/** A recipient key as both spellings wallets use: base58 (what records are tagged with) and did:key. */
export interface RecipientKey {
  readonly base58: string
  readonly didKey: string
}

/** Looks like a key (did:key, or base58 with no character a UUID has) rather than a connection id. */
export function looksLikeKey(input: string): boolean {
  return input.startsWith('did:key:') || /^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(input)
}

/**
 * Reads a recipient key from the command line. Credo is loaded here, not at start, so that commands
 * that need no key do not pay for it.
 */
export async function parseKeyArg(input: string): Promise<RecipientKey> {
  const { parseRecipientKey, formatRecipientKey } = await import('@mediator/credo-runtime')
  const parsed = parseRecipientKey(input)
  if (!parsed.ok) throw new UsageError(`'${input}' is not a recipient key: ${parsed.reason}`)
  return { base58: parsed.base58, didKey: formatRecipientKey(parsed.base58, true) }
}
