/**
 * Throughput of the protocol handlers against a process cluster (one relay, two workers):
 *  - keylist-update for one wallet, sequential and 16 at a time (the conflict-retry path);
 *  - forwards on Credo's path (FAST_FORWARD=false), i.e. our forward handler, posted 32 at a time.
 * Writes bench-results/protocols-throughput.json. Run from the repo root:
 *   node --conditions=source --import tsx apps/mediator/test/protocols/bench/protocols-throughput.ts
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { DidCommMediationRequestMessage, DidCommStatusRequestV2Message } from '@credo-ts/didcomm'
import { TestCluster } from '../../support/cluster.js'
import { postEnvelope, randomRecipientKey, routingKeyOfGrant, startProtocolClient } from '../support/protocol-client.js'
import { metricSum } from '../support/cluster-inspection.js'
import { KeylistUpdateRequestMessage } from '../../../src/protocols/index.js'

const percentile = (sorted: number[], p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0)

async function pool<T>(items: T[], width: number, each: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await each(items[next++] as T)
    }),
  )
}

async function main() {
  const cluster = await TestCluster.start({ label: 'bench_proto', relays: 1, workers: 2, env: { FAST_FORWARD: 'false' } })
  const client = await startProtocolClient('bench')
  try {
    await client.connect(await cluster.invitationUrl())
    const grant = await client.request(new DidCommMediationRequestMessage({}))
    const mediatorKey = routingKeyOfGrant(grant)

    const updateOnce = async (latencies: number[]) => {
      const start = performance.now()
      const answer = await client.request(
        new KeylistUpdateRequestMessage({ updates: [{ recipient_key: randomRecipientKey().did, action: 'add' }] }),
      )
      latencies.push(performance.now() - start)
      const result = (answer.updated as Array<{ result: string }> | undefined)?.[0]?.result
      if (result !== 'success') throw new Error(`keylist update answered ${JSON.stringify(answer)}`)
    }

    const sequential: number[] = []
    for (let i = 0; i < 50; i++) await updateOnce(sequential)

    const concurrent: number[] = []
    const retriesBefore = await metricSum(cluster, 'mediator_keylist_update_conflict_retries_total')
    const concurrentStart = performance.now()
    await pool(Array.from({ length: 200 }), 16, () => updateOnce(concurrent))
    const concurrentMs = performance.now() - concurrentStart
    const retries = (await metricSum(cluster, 'mediator_keylist_update_conflict_retries_total')) - retriesBefore

    const key = randomRecipientKey()
    await client.request(new KeylistUpdateRequestMessage({ updates: [{ recipient_key: key.did, action: 'add' }] }))
    const forwards = await Promise.all(
      Array.from({ length: 500 }, () =>
        client.packForward({ type: 'https://didcomm.org/routing/1.0/forward', to: key.base58, innerRecipient: key.publicJwk, mediatorKey }),
      ),
    )
    const forwardStart = performance.now()
    await pool(forwards, 32, async ({ outer }) => {
      const status = await postEnvelope(cluster.publicHttpUrl, outer)
      if (status !== 202) throw new Error(`forward answered ${status}`)
    })
    for (;;) {
      const status = await client.request(new DidCommStatusRequestV2Message({}))
      if ((status.message_count as number) >= forwards.length) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const forwardMs = performance.now() - forwardStart

    sequential.sort((a, b) => a - b)
    concurrent.sort((a, b) => a - b)
    const result = {
      machine: { cpus: cpus().length, node: process.version },
      cluster: { relays: 1, workers: 2, workerConcurrency: 8, fastForward: false },
      keylistUpdateSequential: { messages: 50, p50Ms: percentile(sequential, 50), p95Ms: percentile(sequential, 95) },
      keylistUpdateConcurrent: {
        messages: 200,
        width: 16,
        perSecond: Math.round((200 / concurrentMs) * 1000),
        p50Ms: percentile(concurrent, 50),
        p95Ms: percentile(concurrent, 95),
        conflictRetries: retries,
      },
      credoPathForwards: { forwards: 500, width: 32, perSecond: Math.round((500 / forwardMs) * 1000), totalMs: Math.round(forwardMs) },
    }
    await mkdir('bench-results', { recursive: true })
    await writeFile('bench-results/protocols-throughput.json', `${JSON.stringify(result, null, 2)}\n`)
    console.log(JSON.stringify(result, null, 2))
  } finally {
    await client.close()
    await cluster.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
