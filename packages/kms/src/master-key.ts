import { parseEnv } from '@mediator/config'
import { z } from 'zod'
import { sodium, KEY_BYTES } from './sodium.js'

export const MASTER_KEY_ENV = 'KMS_MASTER_KEY'

const HEX_32 = /^[0-9a-fA-F]{64}$/
const BASE64_32 = /^[A-Za-z0-9+/_-]{43}=?$/

/** Decodes 32 bytes given as 64 hex digits or as base64 / base64url (padded or not). */
export function decodeMasterKey(text: string): Uint8Array | null {
  const value = text.trim()
  if (HEX_32.test(value)) return new Uint8Array(Buffer.from(value, 'hex'))
  if (!BASE64_32.test(value)) return null
  const bytes = Buffer.from(value.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_'), 'base64url')
  return bytes.length === KEY_BYTES ? new Uint8Array(bytes) : null
}

const masterKeyText = z
  .string({ error: 'is required: 32 random bytes as base64 or hex (e.g. `openssl rand -base64 32`)' })
  .refine((v) => decodeMasterKey(v) !== null, {
    message: 'must be exactly 32 bytes written as 64 hex digits or as base64 (44 characters)',
  })

export const masterKeyEnvSchema = z.object({ [MASTER_KEY_ENV]: masterKeyText })

/**
 * Reads the operator's master key from the environment. Throws `ConfigError` naming
 * KMS_MASTER_KEY when it is missing or not 32 bytes. The key is returned in a sodium secure
 * buffer (guard pages, excluded from core dumps where the OS allows) that `close()` wipes.
 */
export function loadMasterKey(env: Record<string, string | undefined> = process.env): Uint8Array {
  const parsed = parseEnv(masterKeyEnvSchema, env)
  // The schema has already checked the value decodes.
  const decoded = decodeMasterKey(parsed[MASTER_KEY_ENV]) as Uint8Array
  const secure = toSecureKey(decoded)
  sodium.sodium_memzero(decoded)
  return secure
}

/** Copies key bytes into a sodium secure buffer (the caller's copy is left alone). */
export function toSecureKey(bytes: Uint8Array): Uint8Array {
  const secure = sodium.sodium_malloc(bytes.length)
  secure.set(bytes)
  return secure
}
