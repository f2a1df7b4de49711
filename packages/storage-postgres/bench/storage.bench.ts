/**
 * Storage cost on the mediator's hot path, against the real local Postgres:
 *   npx tsx --conditions=source packages/storage-postgres/bench/storage.bench.ts
 * Writes bench-results/storage-postgres.json. RECORDS (default 10000) sets the table size.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { AgentContext, DependencyManager, GenericRecord } from '@credo-ts/core'
import { DidCommMediationRecord, DidCommMediationRole, DidCommMediationState } from '@credo-ts/didcomm'
import { createTestSchema } from '@mediator/test-support'
import { PostgresStorageService, RECORDS_TABLE } from '../src/index.js'

const RECORDS = Number(process.env.RECORDS ?? 10_000)
const ITERATIONS = Number(process.env.ITERATIONS ?? 2_000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8)

const ctx = new AgentContext({ dependencyManager: new DependencyManager(), contextCorrelationId: 'default' })

interface Stats {
  ops: number
  totalMs: number
  opsPerSec: number
  p50Us: number
  p99Us: number
  /** CPU time of this Node process per operation (user + system): the worker-side cost. */
  nodeCpuUsPerOp: number
}

async function measure(ops: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Stats> {
  const latencies: number[] = []
  let next = 0
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) {
        const i = next++
        const t = performance.now()
        await op(i)
        latencies.push(performance.now() - t)
      }
    }),
  )
  const totalMs = performance.now() - start
  const cpu = process.cpuUsage(cpuBefore)
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 1000)
  return { ops, totalMs: Math.round(totalMs), opsPerSec: Math.round((ops / totalMs) * 1000), p50Us: pct(0.5), p99Us: pct(0.99), nodeCpuUsPerOp: Math.round((cpu.user + cpu.system) / ops) }
}

const key = (i: number) => `did:key:z6MkBench${i}`

async function main(): Promise<void> {
  const schema = await createTestSchema('bench_storage')
  try {
    const storage = await PostgresStorageService.create({ pool: schema.pool })
    const lenient = new PostgresStorageService({ pool: schema.pool, validateOnRead: false })
    const results: Record<string, Stats> = {}

    results.saveMediationRecord = await measure(RECORDS, CONCURRENCY, (i) =>
      storage.save(
        ctx,
        new DidCommMediationRecord({
          id: `m${i}`,
          connectionId: `conn${i}`,
          threadId: `thread${i}`,
          state: DidCommMediationState.Granted,
          role: DidCommMediationRole.Mediator,
          recipientKeys: [key(i)],
          routingKeys: [],
        }),
      ),
    )
    for (let i = 0; i < RECORDS; i += 1000) {
      await storage.save(ctx, new GenericRecord({ content: { filler: 'x'.repeat(200) }, tags: { kind: 'other', n: String(i) } }))
    }
    // What autovacuum would do soon after a bulk load; without it the GIN index has no statistics.
    await schema.pool.query(`VACUUM ANALYZE ${RECORDS_TABLE}`)

    const pick = (i: number) => (i * 7919) % RECORDS
    // Warm up the JIT and every pooled connection's prepared statements before timing anything.
    await measure(500, CONCURRENCY, async (i) => {
      await storage.getById(ctx, DidCommMediationRecord, `m${pick(i)}`)
      await lenient.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: [key(pick(i))] })
    })
    results.getById = await measure(ITERATIONS, 1, (i) => storage.getById(ctx, DidCommMediationRecord, `m${pick(i)}`))
    results.getByIdNoValidation = await measure(ITERATIONS, 1, (i) => lenient.getById(ctx, DidCommMediationRecord, `m${pick(i)}`))
    results.findMediationByRecipientKey = await measure(ITERATIONS, 1, (i) =>
      storage.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: [key(pick(i))] }),
    )
    results.findMediationByRecipientKeyNoValidation = await measure(ITERATIONS, 1, (i) =>
      lenient.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: [key(pick(i))] }),
    )
    results.findMiss = await measure(ITERATIONS, 1, () =>
      storage.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: ['did:key:unknown'] }),
    )
    results.findByQueryConcurrent = await measure(ITERATIONS * 2, CONCURRENCY, (i) =>
      storage.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: [key(pick(i))] }),
    )
    results.updateReadModifyWrite = await measure(ITERATIONS, 1, async (i) => {
      const record = await storage.getById(ctx, DidCommMediationRecord, `m${pick(i)}`)
      record.endpoint = `https://example.org/${i}`
      await storage.update(ctx, record)
    })
    // Stock Credo's storage work for one forwarded message at the mediator: ~8 tag queries, 3 id reads.
    results.perForwardStorageWork = await measure(ITERATIONS / 4, CONCURRENCY, async (i) => {
      const k = key(pick(i))
      for (let q = 0; q < 8; q++) await storage.findByQuery(ctx, DidCommMediationRecord, { recipientKeys: [k] })
      for (let g = 0; g < 3; g++) await storage.getById(ctx, DidCommMediationRecord, `m${pick(i)}`)
    })

    const report = {
      benchmark: 'storage-postgres',
      at: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      postgres: (await schema.pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v,
      records: RECORDS,
      concurrency: CONCURRENCY,
      results,
    }
    await mkdir('bench-results', { recursive: true })
    await writeFile('bench-results/storage-postgres.json', `${JSON.stringify(report, null, 2)}\n`)
    console.log(JSON.stringify(report, null, 2))
  } finally {
    await schema.drop()
  }
}

await main()
