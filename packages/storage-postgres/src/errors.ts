import { CredoError } from '@credo-ts/core'

/**
 * An update was made from a stale copy: another writer changed the record after this copy was read.
 * Nothing was written. Re-read the record, re-apply the change and try again (see `retryOnConflict`).
 */
export class RecordConcurrencyError extends CredoError {
  /** Always true: the same change made on a fresh copy may succeed. */
  public readonly retryable = true as const
  public readonly recordType: string
  public readonly recordId: string
  /** The version the stale copy was read at, when known. */
  public readonly expectedVersion: number | undefined

  public constructor(
    message: string,
    details: { recordType: string; recordId: string; expectedVersion?: number; cause?: Error },
  ) {
    super(message, details.cause ? { cause: details.cause } : undefined)
    this.name = 'RecordConcurrencyError'
    this.recordType = details.recordType
    this.recordId = details.recordId
    this.expectedVersion = details.expectedVersion
  }
}

/** Any other failure of the database (connection lost, invalid data, ...), with the pg error as cause. */
export class PostgresStorageError extends CredoError {
  public constructor(message: string, options?: { cause?: Error }) {
    super(message, options)
    this.name = 'PostgresStorageError'
  }
}

/** A query that cannot be expressed: a malformed WQL object or a tag value type Credo does not use. */
export class InvalidQueryError extends CredoError {
  public constructor(message: string) {
    super(message)
    this.name = 'InvalidQueryError'
  }
}
