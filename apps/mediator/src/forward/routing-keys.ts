import { TypedArrayEncoder, type AgentContext } from '@credo-ts/core'
import { DidCommMediatorRoutingRepository } from '@credo-ts/didcomm'

/**
 * The mediator's routing keys, as the `kid` of an envelope names them (base58 Ed25519), with the KMS
 * key id of each. Read from Credo's DidCommMediatorRoutingRecord once at start and again whenever it
 * may have changed (`refresh()`); a key that is missing here only means "let Credo handle it".
 */
export class RoutingKeys {
  private keys = new Map<string, string>()

  public constructor(private readonly agentContext: AgentContext) {}

  /** KMS key id of the routing key with this base58 public key, if it is one of ours. */
  public keyIdFor(kid: string): string | undefined {
    return this.keys.get(kid)
  }

  public get size(): number {
    return this.keys.size
  }

  public async refresh(): Promise<void> {
    const repository = this.agentContext.dependencyManager.resolve(DidCommMediatorRoutingRepository)
    const record = await repository.findById(this.agentContext, repository.MEDIATOR_ROUTING_RECORD_ID)
    const keys = new Map<string, string>()
    for (const key of record?.routingKeysWithKeyId ?? []) {
      if (key.hasKeyId) keys.set(TypedArrayEncoder.toBase58(key.publicKey.publicKey), key.keyId)
    }
    this.keys = keys
  }
}
