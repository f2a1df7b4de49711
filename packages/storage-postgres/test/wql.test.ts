import { GenericRecord, type TagsBase } from '@credo-ts/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidQueryError, wqlToSql, type WqlQuery } from '../src/index.js'
import { agentContextFor, createStorageFixture, type StorageFixture } from './helpers.js'

/**
 * Credo's in-memory test storage semantics (tests/InMemoryStorageService.ts in credo-ts 0.6.3),
 * restated independently: undefined values are skipped, an array value needs a stored array that
 * contains every element, anything else is strict equality; `$and` all, `$or` some. The in-memory
 * storage throws on `$not`; here it is plain negation, which is what Askar does.
 */
function matches(tags: TagsBase, query: WqlQuery): boolean {
  const { $and, $or, $not, ...simple } = query
  for (const [key, value] of Object.entries(simple)) {
    if (value === undefined) continue
    const stored = tags[key]
    if (Array.isArray(value)) {
      if (!Array.isArray(stored) || !value.every((v) => stored.includes(v as string))) return false
    } else if (stored !== value) return false
  }
  if ($and !== undefined && !($and as WqlQuery[]).every((q) => matches(tags, q))) return false
  if ($or !== undefined && !($or as WqlQuery[]).some((q) => matches(tags, q))) return false
  if ($not !== undefined && matches(tags, $not as WqlQuery)) return false
  return true
}

const DATA: Array<{ id: string; tags: TagsBase }> = [
  { id: 'r01', tags: { role: 'mediator', state: 'granted', recipientKeys: ['k1', 'k2'], connectionId: 'c1' } },
  { id: 'r02', tags: { role: 'mediator', state: 'requested', recipientKeys: ['k3'], connectionId: 'c2' } },
  { id: 'r03', tags: { role: 'recipient', state: 'granted', recipientKeys: [], connectionId: 'c3' } },
  { id: 'r04', tags: { role: 'mediator', state: 'granted', recipientKeys: ['k2', 'k4'], default: true } },
  { id: 'r05', tags: { role: 'mediator', default: false, flag: 'true' } },
  { id: 'r06', tags: { role: 'recipient', flag: true, state: 'declined' } },
  { id: 'r07', tags: { did: 'did:peer:1', theirDid: 'did:peer:2', previousDids: [], previousTheirDids: ['did:peer:9'] } },
  { id: 'r08', tags: { did: 'did:peer:3', theirDid: 'did:peer:9', previousDids: ['did:peer:1'], previousTheirDids: [] } },
  { id: 'r09', tags: { did: 'did:peer:1', theirDid: 'did:peer:8', alternativeDids: ['did:peer:1b'] } },
  { id: 'r10', tags: { nothing: null, state: '1' } },
  { id: 'r11', tags: { state: '0', recipientKeys: 'k1' } },
  { id: 'r12', tags: {} },
  { id: 'r13', tags: { role: 'mediator', state: 'granted', recipientKeys: ['k1'], connectionId: 'c1', threadId: 't1' } },
  { id: 'r14', tags: { 'weird key': 'va"lue\\', 'ü': 'ö', routingKeyFingerprints: ['z6Mk1', 'z6Mk2'] } },
]

const QUERIES: Array<[string, WqlQuery]> = [
  ['empty query', {}],
  ['one string', { role: 'mediator' }],
  ['two strings', { role: 'mediator', state: 'granted' }],
  ['no match', { role: 'nobody' }],
  ['array contains one', { recipientKeys: ['k2'] }],
  ['array contains all', { recipientKeys: ['k1', 'k2'] }],
  ['array contains all, one missing', { recipientKeys: ['k1', 'k4'] }],
  ['array duplicate elements', { recipientKeys: ['k2', 'k2'] }],
  ['empty array: any stored array', { recipientKeys: [] }],
  ['string does not match an array containing it', { routingKeyFingerprints: 'z6Mk1' } as WqlQuery],
  ['array does not match a string', { recipientKeys: ['k1'], role: undefined }],
  ['string tag that is a string', { recipientKeys: 'k1' } as WqlQuery],
  ['boolean true', { default: true }],
  ['boolean false', { default: false }],
  ['boolean true is not the string true', { flag: true }],
  ['string true is not boolean true', { flag: 'true' }],
  ["'1' is a string, not true", { state: '1' }],
  ['null matches stored null only', { nothing: null }],
  ['undefined values are skipped', { role: 'mediator', state: undefined }],
  ['only undefined', { role: undefined }],
  ['odd key and value', { 'weird key': 'va"lue\\', 'ü': 'ö' }],
  ['$and', { $and: [{ role: 'mediator' }, { state: 'granted' }] }],
  ['$and empty', { $and: [] }],
  ['$or', { $or: [{ state: 'requested' }, { state: 'declined' }] }],
  ['$or empty matches nothing', { $or: [] }],
  ['$or undefined is skipped', { role: 'recipient', $or: undefined }],
  ['$or with an always-true branch', { $or: [{}, { role: 'nobody' }] }],
  ['$or with an only-undefined branch', { $or: [{ role: undefined }, { role: 'nobody' }] }],
  ['$not', { $not: { role: 'mediator' } }],
  ['$not includes records without the tag', { $not: { default: true } }],
  ['$not of array containment', { role: 'mediator', $not: { recipientKeys: ['k2'] } }],
  ['$not of empty query', { $not: {} }],
  ['$not $not', { $not: { $not: { state: 'granted' } } }],
  ['top-level and $or together', { role: 'mediator', $or: [{ recipientKeys: ['k1'] }, { recipientKeys: ['k3'] }] }],
  [
    'connection by dids (Credo findByDids)',
    {
      $or: [
        { did: 'did:peer:1', theirDid: 'did:peer:9' },
        { did: 'did:peer:1', previousTheirDids: ['did:peer:9'] },
        { previousDids: ['did:peer:1'], theirDid: 'did:peer:9' },
      ],
    },
  ],
  ['did by alternative or main (Credo findAllByDid)', { $or: [{ alternativeDids: ['did:peer:1b'] }, { did: 'did:peer:1' }] }],
  [
    'nested combination',
    {
      $or: [
        { $and: [{ role: 'mediator' }, { $not: { state: 'granted' } }] },
        { $and: [{ state: 'granted' }, { $or: [{ connectionId: 'c3' }, { threadId: 't1' }] }] },
      ],
      $not: { default: false },
    },
  ],
  ['$and of $or', { $and: [{ $or: [{ role: 'mediator' }, { role: 'recipient' }] }, { $or: [{ state: 'granted' }, { flag: true }] }] }],
  ['$and, $or and $not at one level', { $and: [{ role: 'mediator' }], $or: [{ state: 'granted' }, { default: false }], $not: { connectionId: 'c1' } }],
]

describe('WQL on Postgres matches Credo in-memory semantics', () => {
  const ctx = agentContextFor('default')
  let fx: StorageFixture

  beforeAll(async () => {
    fx = await createStorageFixture('storage_wql')
    for (const { id, tags } of DATA) await fx.storage.save(ctx, new GenericRecord({ id, content: {}, tags }))
    // Same tags in another context and as another type: must never show up.
    await fx.storage.save(agentContextFor('other'), new GenericRecord({ id: 'x01', content: {}, tags: { role: 'mediator' } }))
  })
  afterAll(async () => {
    await fx.drop()
  })

  it.each(QUERIES)('%s', async (_name, query) => {
    const expected = DATA.filter((r) => matches(r.tags, query)).map((r) => r.id)
    const actual = (await fx.storage.findByQuery(ctx, GenericRecord, query)).map((r) => r.id)
    expect(actual).toEqual(expected)
  })

  it('the matrix is not trivial: queries select different, non-empty and non-full subsets', () => {
    const results = new Set(QUERIES.map(([, q]) => DATA.filter((r) => matches(r.tags, q)).map((r) => r.id).join(',')))
    expect(results.size).toBeGreaterThan(25)
  })

  it('pages with limit and offset over insertion order', async () => {
    const all = DATA.filter((r) => matches(r.tags, { role: 'mediator' })).map((r) => r.id)
    expect(all.length).toBeGreaterThan(3)
    const page = async (limit?: number, offset?: number) =>
      (await fx.storage.findByQuery(ctx, GenericRecord, { role: 'mediator' }, { limit, offset })).map((r) => r.id)
    expect(await page(2)).toEqual(all.slice(0, 2))
    expect(await page(2, 2)).toEqual(all.slice(2, 4))
    expect(await page(undefined, 3)).toEqual(all.slice(3))
    expect(await page(100, 1)).toEqual(all.slice(1))
    expect(await page(0)).toEqual([])
    expect(await page(2, 100)).toEqual([])
    const walked: string[] = []
    for (let offset = 0; ; offset += 2) {
      const ids = await page(2, offset)
      if (ids.length === 0) break
      walked.push(...ids)
    }
    expect(walked).toEqual(all)
  })

  it('keeps insertion order after updates', async () => {
    const first = await fx.storage.getById(ctx, GenericRecord, 'r01')
    first.setTag('touched', 'yes')
    await fx.storage.update(ctx, first)
    const ids = (await fx.storage.findByQuery(ctx, GenericRecord, { role: 'mediator' })).map((r) => r.id)
    expect(ids[0]).toBe('r01')
  })

  it('rejects malformed queries and paging instead of guessing', async () => {
    const bad: WqlQuery[] = [{ $or: { a: 'b' } }, { $and: ['x'] }, { $not: [] }, { tag: { nested: 'object' } }, { tag: [{}] }]
    for (const query of bad) {
      await expect(fx.storage.findByQuery(ctx, GenericRecord, query)).rejects.toBeInstanceOf(InvalidQueryError)
    }
    await expect(fx.storage.findByQuery(ctx, GenericRecord, {}, { limit: -1 })).rejects.toBeInstanceOf(InvalidQueryError)
    await expect(fx.storage.findByQuery(ctx, GenericRecord, {}, { offset: 1.5 })).rejects.toBeInstanceOf(InvalidQueryError)
    await expect(fx.storage.findByQuery(ctx, GenericRecord, {}, { cursor: { after: 'x' } })).rejects.toBeInstanceOf(
      InvalidQueryError,
    )
  })
})

describe('wqlToSql', () => {
  it('puts all plain tags of one level into one parameterised containment test', () => {
    const params: unknown[] = []
    expect(wqlToSql({ recipientKeys: ['k'], role: 'mediator', skip: undefined }, params)).toBe('tags @> $1::jsonb')
    expect(params).toEqual([JSON.stringify({ recipientKeys: ['k'], role: 'mediator' })])
  })

  it('gives queries of one shape the same SQL text, whatever the tag names and values', () => {
    const a = wqlToSql({ $or: [{ did: 'a', theirDid: 'b' }, { x: ['y'] }] }, [])
    const b = wqlToSql({ $or: [{ q: true }, { threadId: 'zzz' }] }, [])
    expect(a).toBe(b)
    expect(a).toBe('(tags @> $1::jsonb OR tags @> $2::jsonb)')
  })

  it('numbers placeholders after the parameters already present', () => {
    const params: unknown[] = ['ctx', 'type']
    expect(wqlToSql({ a: 'b', $not: { c: 'd' } }, params)).toBe('(tags @> $3::jsonb AND NOT (tags @> $4::jsonb))')
    expect(params).toHaveLength(4)
  })
})
