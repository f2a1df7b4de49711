import { InvalidQueryError } from './errors.js'

/**
 * A WQL query as Credo passes it: tag names mapped to values, plus the `$and`, `$or` and `$not`
 * operators. Credo's own `Query<T>` type is generic over the record class; the translation does not
 * need that, so it takes the structural shape.
 */
export type WqlQuery = { readonly [key: string]: unknown }

const OPERATORS = new Set(['$and', '$or', '$not'])

/**
 * Translates a WQL query into a boolean SQL expression over the JSONB `tags` column, appending its
 * parameters to `params` (placeholders continue after those already there).
 *
 * Every group of plain tag conditions becomes ONE `tags @> $n::jsonb` containment test, which is
 * exactly Credo's in-memory semantics and is served by the GIN (jsonb_path_ops) index:
 * - a scalar value (string, boolean, number, null) must be equal, with its JSON type: `true` does not
 *   match `'true'`, and a string does not match an array that contains it;
 * - an array value means the stored value is an array containing every element;
 * - `undefined` values are skipped.
 * `$and` is a conjunction (empty: true), `$or` a disjunction (empty: false, as `[].some()` in
 * Credo's in-memory storage) and `$not` a negation (a record without the tag matches `$not`).
 *
 * Tag names and values never appear in the SQL text, only in parameters, so all queries of one
 * shape share one prepared statement.
 */
export function wqlToSql(query: WqlQuery, params: unknown[]): string {
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw new InvalidQueryError(`A WQL query must be an object, got ${describe(query)}`)
  }

  const conditions: string[] = []
  const containment: Record<string, unknown> = {}
  let hasContainment = false

  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    if (OPERATORS.has(key)) continue
    containment[key] = checkTagValue(key, value)
    hasContainment = true
  }
  if (hasContainment) {
    params.push(JSON.stringify(containment))
    conditions.push(`tags @> $${params.length}::jsonb`)
  }

  const and = query.$and
  if (and !== undefined) {
    for (const sub of asQueryList('$and', and)) {
      const sql = wqlToSql(sub, params)
      if (sql !== 'TRUE') conditions.push(sql)
    }
  }

  const or = query.$or
  if (or !== undefined) {
    const paramsBefore = params.length
    const subs = asQueryList('$or', or).map((sub) => wqlToSql(sub, params))
    if (subs.length === 0) conditions.push('FALSE')
    // One branch that always matches makes the whole disjunction true; its siblings' parameters
    // must go too, or Postgres would see parameters the SQL text never references.
    else if (subs.includes('TRUE')) params.length = paramsBefore
    else conditions.push(subs.length === 1 ? subs[0]! : `(${subs.join(' OR ')})`)
  }

  const not = query.$not
  if (not !== undefined) {
    if (not === null || typeof not !== 'object' || Array.isArray(not)) {
      throw new InvalidQueryError(`$not must be a query object, got ${describe(not)}`)
    }
    conditions.push(`NOT (${wqlToSql(not as WqlQuery, params)})`)
  }

  if (conditions.length === 0) return 'TRUE'
  return conditions.length === 1 ? conditions[0]! : `(${conditions.join(' AND ')})`
}

function asQueryList(operator: string, value: unknown): WqlQuery[] {
  if (!Array.isArray(value)) throw new InvalidQueryError(`${operator} must be an array of queries, got ${describe(value)}`)
  for (const item of value) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new InvalidQueryError(`${operator} must contain query objects, got ${describe(item)}`)
    }
  }
  return value as WqlQuery[]
}

/**
 * Tag values Credo uses are strings, booleans, string arrays and null. Numbers compare by value in
 * JSON, as in memory. Objects would compare by reference in memory (never equal) but by containment
 * in JSONB, so they are refused rather than given a meaning Credo never had.
 */
function checkTagValue(key: string, value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!(typeof item === 'string' || typeof item === 'boolean' || item === null || (typeof item === 'number' && Number.isFinite(item)))) {
        throw new InvalidQueryError(`Tag '${key}': array elements must be strings, got ${describe(item)}`)
      }
    }
    return value
  }
  throw new InvalidQueryError(`Tag '${key}': unsupported query value ${describe(value)}`)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
