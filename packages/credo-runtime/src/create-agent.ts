import {
  Agent,
  type AgentDependencies,
  CacheModule,
  DidsModule,
  InMemoryLruCache,
  JwkDidResolver,
  KeyDidResolver,
  Kms,
  LogLevel,
  type BaseRecord,
  type Logger,
  type Module,
  type StorageService,
  WebDidResolver,
} from '@credo-ts/core'
import { DidCommModule, type DidCommModuleConfigOptions } from '@credo-ts/didcomm'
import { agentDependencies } from './agent-dependencies.js'
import { StorageServiceModule } from './storage-module.js'
import { FastPeerDidResolver } from './peer-did-4-resolver.js'

export interface CreateCredoAgentOptions<
  Options extends DidCommModuleConfigOptions,
  Extra extends Record<string, Module> = Record<string, never>,
> {
  /** The key management backend (our sodium-native KMS in production). */
  kms: Kms.KeyManagementService
  /** The storage service (our Postgres storage in production). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one instance serves every record class
  storage: StorageService<BaseRecord<any, any, any>>
  didcomm: Options
  logger?: Logger
  /** Entries of the per-process DID resolution cache (default 1,000). */
  cacheLimit?: number
  /** The fetch Credo's HTTP transport and resolvers use (default: Node's). */
  fetch?: AgentDependencies['fetch']
  /** The WebSocket class Credo's WebSocket transport opens sockets with (default: ws's). */
  webSocketClass?: AgentDependencies['WebSocketClass']
  /**
   * More modules, registered after the DIDComm module: a module here may replace a service that
   * DIDComm registered (Credo resolves the last registration).
   */
  modules?: Extra
}

/**
 * Assembles a Credo 0.6.3 agent on our own platform pieces: Node agent dependencies, the given KMS and
 * storage, and the DIDComm module under the `didcomm` key (Credo only exposes `agent.didcomm` then).
 */
export function createCredoAgent<
  Options extends DidCommModuleConfigOptions,
  Extra extends Record<string, Module> = Record<string, never>,
>(options: CreateCredoAgentOptions<Options, Extra>) {
  return new Agent({
    config: {
      logger: options.logger,
      // Storage is provisioned with the current framework version; an old store must be migrated
      // on purpose, not as a side effect of a worker starting.
      autoUpdateStorageOnStartup: false,
    },
    dependencies: {
      ...agentDependencies,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.webSocketClass ? { WebSocketClass: options.webSocketClass } : {}),
    },
    modules: {
      kms: new Kms.KeyManagementModule({ backends: [options.kms] }),
      storage: new StorageServiceModule(options.storage),
      // Credo's default cache is one record in the StorageService: with many workers on one database
      // it would be a record every worker rewrites on every DID resolution. What it caches (resolved
      // DID documents) is cheap to hold per process, so each process keeps its own.
      cache: new CacheModule({ cache: new InMemoryLruCache({ limit: options.cacheLimit ?? 1_000 }) }),
      // Credo's default resolvers, with did:peer:4 (every connection's DID) decoded natively fast.
      dids: new DidsModule({ resolvers: [new WebDidResolver(), new KeyDidResolver(), new FastPeerDidResolver(), new JwkDidResolver()] }),
      didcomm: new DidCommModule(options.didcomm),
      ...(options.modules ?? ({} as Extra)),
    },
  })
}

export type CredoAgent<Options extends DidCommModuleConfigOptions = DidCommModuleConfigOptions> = ReturnType<
  typeof createCredoAgent<Options>
>

export { LogLevel }

/**
 * The DIDComm options of an agent that only connects to others and exchanges messages with them (a
 * sender, a test wallet, a test client): connections accepted on its own, no mediation either way,
 * no credentials, no proofs. Spread it and add the transports (and endpoints).
 */
export const peerAgentDidcommOptions = {
  connections: { autoAcceptConnections: true },
  mediator: false,
  mediationRecipient: false,
  credentials: false,
  proofs: false,
} as const
