import type { Logger } from '@mediator/config'
import type pg from 'pg'
import { KeyManagementClosedError, MasterKeyMismatchError } from './errors.js'
import { deriveKeyMaterial, okpBytes, type KeyMaterial, type OkpCurve, type StoredPublicJwk } from './key-material.js'
import { toSecureKey } from './master-key.js'
import { KeyDecryptionError, masterKeyCheckValue, openSecret, sealSecret } from './sealed-secret.js'
import { sodium } from './sodium.js'
import { createTables, lockSchemaForMigration } from './schema.js'

export interface PostgresKeyStoreOptions {
  /** Pool whose search_path selects the schema holding `kms_keys`. The store does not end it. */
  readonly pool: pg.Pool
  /** The operator's 32-byte master key (see `loadMasterKey`). The store keeps its own copy. */
  readonly masterKey: Uint8Array
  readonly logger?: Logger
}

/** Thrown by `insert` when the (context, key id) pair is taken. */
export class KeyIdTakenError extends Error {}

const UNIQUE_VIOLATION = '23505'

/**
 * Private keys in Postgres, sealed under the master key. Knows nothing about Credo's options or
 * caching; it stores and returns derived key material per (contextCorrelationId, keyId).
 */
export class PostgresKeyStore {
  private masterKey: Uint8Array | null

  private constructor(
    private readonly pool: pg.Pool,
    masterKey: Uint8Array,
    private readonly logger: Logger | undefined,
  ) {
    this.masterKey = masterKey
  }

  /**
   * Creates the tables if needed and proves the master key is the one the schema was set up with,
   * both inside one transaction under an advisory lock. Rejects with `MasterKeyMismatchError`.
   */
  public static async open(options: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    if (options.masterKey.length !== 32) throw new RangeError('The KMS master key must be 32 bytes')
    const store = new PostgresKeyStore(options.pool, toSecureKey(options.masterKey), options.logger)
    try {
      await store.migrateAndVerify()
    } catch (error) {
      store.close()
      throw error
    }
    return store
  }

  private async migrateAndVerify(): Promise<void> {
    const masterKey = this.requireMasterKey()
    const expected = masterKeyCheckValue(masterKey)
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await lockSchemaForMigration(client)
      await createTables(client)
      const schema = (await client.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? '?'
      const check = await client.query<{ check_value: Buffer }>('SELECT check_value FROM kms_master_key_check WHERE id = 1')
      const stored = check.rows[0]?.check_value
      if (stored) {
        if (stored.length !== expected.length || !sodium.sodium_memcmp(stored, expected)) {
          throw new MasterKeyMismatchError(schema)
        }
      } else {
        // A schema whose check row is missing but which holds keys must still prove the key fits.
        await this.verifyAgainstExistingKey(client, schema)
        await client.query('INSERT INTO kms_master_key_check (id, check_value) VALUES (1, $1)', [Buffer.from(expected)])
        this.logger?.info({ schema }, 'kms: master key check value recorded')
      }
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  private async verifyAgainstExistingKey(client: pg.PoolClient, schema: string): Promise<void> {
    const row = await client.query<{ context_correlation_id: string; key_id: string; sealed_secret: Buffer }>(
      'SELECT context_correlation_id, key_id, sealed_secret FROM kms_keys LIMIT 1',
    )
    const first = row.rows[0]
    if (!first) return
    try {
      sodium.sodium_memzero(openSecret(this.requireMasterKey(), first.context_correlation_id, first.key_id, first.sealed_secret))
    } catch (error) {
      if (error instanceof KeyDecryptionError) throw new MasterKeyMismatchError(schema)
      throw error
    }
  }

  public async insert(
    contextCorrelationId: string,
    keyId: string,
    curve: OkpCurve,
    publicJwk: StoredPublicJwk,
    secret: Uint8Array,
  ): Promise<void> {
    const sealed = sealSecret(this.requireMasterKey(), contextCorrelationId, keyId, secret)
    try {
      await this.pool.query({
        name: 'kms_insert_key',
        text: 'INSERT INTO kms_keys (context_correlation_id, key_id, curve, public_jwk, sealed_secret) VALUES ($1, $2, $3, $4, $5)',
        values: [contextCorrelationId, keyId, curve, publicJwk, Buffer.from(sealed)],
      })
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new KeyIdTakenError(keyId)
      throw error
    }
  }

  /** The key pair, or null when this context has no such key. */
  public async load(contextCorrelationId: string, keyId: string): Promise<KeyMaterial | null> {
    const result = await this.pool.query<{ curve: OkpCurve; public_jwk: StoredPublicJwk; sealed_secret: Buffer }>({
      name: 'kms_load_key',
      text: 'SELECT curve, public_jwk, sealed_secret FROM kms_keys WHERE context_correlation_id = $1 AND key_id = $2',
      values: [contextCorrelationId, keyId],
    })
    const row = result.rows[0]
    if (!row) return null
    const secret = openSecret(this.requireMasterKey(), contextCorrelationId, keyId, row.sealed_secret)
    try {
      const expected = okpBytes(row.public_jwk.x) ?? undefined
      return deriveKeyMaterial(keyId, row.curve, secret, row.public_jwk, expected)
    } finally {
      sodium.sodium_memzero(secret)
    }
  }

  public async delete(contextCorrelationId: string, keyId: string): Promise<boolean> {
    const result = await this.pool.query({
      name: 'kms_delete_key',
      text: 'DELETE FROM kms_keys WHERE context_correlation_id = $1 AND key_id = $2',
      values: [contextCorrelationId, keyId],
    })
    return (result.rowCount ?? 0) > 0
  }

  /** Wipes the master key copy. The pool belongs to the caller and stays open. */
  public close(): void {
    if (this.masterKey) sodium.sodium_memzero(this.masterKey)
    this.masterKey = null
  }

  private requireMasterKey(): Uint8Array {
    if (!this.masterKey) throw new KeyManagementClosedError()
    return this.masterKey
  }
}
