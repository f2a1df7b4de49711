/**
 * The stock-Credo baseline of `npm run bench:forward`: one process, Credo 0.6.3 as it ships (its own
 * forward handler, in-memory storage, InMemoryQueueTransportRepository, QueueAndLiveModeDelivery,
 * messages processed one at a time), on our sodium KMS and the plain HTTP+WS inbound transport.
 * Started by the benchmark as its own process; prints one `READY {json}` line with its invitation.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { z } from 'zod'
import {
  DidCommHttpOutboundTransport,
  DidCommMessageForwardingStrategy,
  DidCommWsOutboundTransport,
} from '@credo-ts/didcomm'
import { createCredoAgent, HttpWsInboundTransport } from '@mediator/credo-runtime'
import { SodiumKeyManagementService } from '@mediator/kms'
import { InMemoryStorageService } from '@mediator/test-support'

const env = z
  .object({
    BASELINE_PORT: z.coerce.number().int().min(1).max(65535),
    DATABASE_URL: z.string().url(),
    DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/),
  })
  .parse(process.env)

async function main(): Promise<void> {
  // The KMS keeps its keys in Postgres, but every key in use is cached: no query per message.
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}`, max: 2 })
  const kms = await SodiumKeyManagementService.create({ pool, masterKey: new Uint8Array(randomBytes(32)) })
  const storage = new InMemoryStorageService()
  storage.provision('default')
  const url = `127.0.0.1:${env.BASELINE_PORT}`
  const agent = createCredoAgent({
    kms,
    storage,
    didcomm: {
      endpoints: [`http://${url}`, `ws://${url}`],
      transports: {
        inbound: [new HttpWsInboundTransport({ port: env.BASELINE_PORT })],
        outbound: [new DidCommHttpOutboundTransport(), new DidCommWsOutboundTransport()],
      },
      connections: { autoAcceptConnections: true },
      mediator: {
        autoAcceptMediationRequests: true,
        messageForwardingStrategy: DidCommMessageForwardingStrategy.QueueAndLiveModeDelivery,
      },
      mediationRecipient: false,
      credentials: false,
      proofs: false,
    },
  })
  await agent.initialize()
  const invitation = await agent.didcomm.oob.createInvitation({ multiUseInvitation: true })
  const invitationUrl = invitation.outOfBandInvitation.toUrl({ domain: `http://${url}` })
  process.stdout.write(`READY ${JSON.stringify({ invitationUrl })}\n`)

  const stop = () => {
    agent
      .shutdown()
      .catch(() => undefined)
      .finally(() => {
        kms.close()
        void pool.end().finally(() => process.exit(0))
      })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline mediator failed: ${(error as Error)?.stack ?? String(error)}\n`)
  process.exit(1)
})
