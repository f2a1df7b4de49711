import { JsonTransformer, type BaseRecordAny, type BaseRecordConstructor, type TagsBase } from '@credo-ts/core'
import { rememberVersion } from './record-versions.js'

/** What one row holds for a record, ready to be sent as query parameters. */
export interface EncodedRecord {
  readonly value: string
  readonly tags: string
}

/**
 * Serialises a record the way Credo's storages do (`JsonTransformer.toJSON` + `getTags()`). The
 * `_tags` copy inside the JSON is dropped: tags live in their own column and are put back with
 * `replaceTags` on the way out.
 */
export function encodeRecord(record: BaseRecordAny): EncodedRecord {
  const value = JsonTransformer.toJSON(record) as Record<string, unknown>
  delete value._tags
  return { value: JSON.stringify(value), tags: JSON.stringify(record.getTags()) }
}

/** A row as selected by the service: `value` and `tags` are parsed by pg from JSONB. */
export interface RecordRow {
  readonly id: string
  readonly value: Record<string, unknown>
  readonly tags: TagsBase
  readonly version: number
}

export function decodeRecord<T extends BaseRecordAny>(
  row: RecordRow,
  recordClass: BaseRecordConstructor<T>,
  validate: boolean,
): T {
  const record = JsonTransformer.fromJSON(row.value, recordClass, { validate })
  record.id = row.id
  record.replaceTags(row.tags)
  rememberVersion(record, row.version)
  return record
}
