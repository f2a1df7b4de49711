import type { BaseRecordAny } from '@credo-ts/core'

/**
 * The row version each record instance was read or written at. Kept beside the instance, not on it,
 * so that nothing leaks into `JsonTransformer.toJSON(record)`, events or caches, and so that a copy
 * (`record.clone()`, a cache hit) starts without one.
 */
const versions = new WeakMap<BaseRecordAny, number>()

export function rememberVersion(record: BaseRecordAny, version: number): void {
  versions.set(record, version)
}

export function knownVersion(record: BaseRecordAny): number | undefined {
  return versions.get(record)
}

export function forgetVersion(record: BaseRecordAny): void {
  versions.delete(record)
}
