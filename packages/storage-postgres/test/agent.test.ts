import { EventEmitter } from 'node:events'
import { Agent, StorageVersionRecord, type AgentDependencies, type FileSystem } from '@credo-ts/core'
import { WebSocket } from 'ws'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PostgresStorageModule, type PostgresStorageService } from '../src/index.js'
import { agentContextFor, createStorageFixture, type StorageFixture } from './helpers.js'

// Credo 0.6.3 constructs a FileSystem but never calls it on these paths; failing loudly proves that.
class UnusedFileSystem implements FileSystem {
  public readonly dataPath = '/nonexistent/data'
  public readonly cachePath = '/nonexistent/cache'
  public readonly tempPath = '/nonexistent/tmp'
  private unused(): never {
    throw new Error('FileSystem is not expected to be used by this test')
  }
  public exists = async (): Promise<boolean> => this.unused()
  public createDirectory = async (): Promise<void> => this.unused()
  public copyFile = async (): Promise<void> => this.unused()
  public write = async (): Promise<void> => this.unused()
  public read = async (): Promise<string> => this.unused()
  public delete = async (): Promise<void> => this.unused()
  public downloadToFile = async (): Promise<void> => this.unused()
}

const dependencies: AgentDependencies = {
  FileSystem: UnusedFileSystem,
  EventEmitterClass: EventEmitter,
  fetch: globalThis.fetch,
  // ws implements the WHATWG WebSocket API Credo types against, closely enough for Credo's use.
  WebSocketClass: WebSocket as unknown as AgentDependencies['WebSocketClass'],
}

function agentOn(storage: PostgresStorageService, provisionRootContext = true) {
  return new Agent({ dependencies, modules: { storage: new PostgresStorageModule(storage, { provisionRootContext }) } })
}

describe('a Credo agent on the Postgres storage', () => {
  let fx: StorageFixture
  const agents: Array<ReturnType<typeof agentOn>> = []
  beforeEach(async () => {
    fx = await createStorageFixture('storage_agent')
  })
  afterEach(async () => {
    for (const agent of agents.splice(0)) if (agent.isInitialized) await agent.shutdown()
    await fx.drop()
  })

  it('initializes on a fresh database, and a second worker initializes on the same one', async () => {
    const first = agentOn(fx.storage)
    agents.push(first)
    await first.initialize()
    const version = await fx.storage.getById(agentContextFor('default'), StorageVersionRecord, StorageVersionRecord.storageVersionRecordId)
    expect(version.storageVersion).toBe(StorageVersionRecord.frameworkStorageVersion)

    const saved = await first.genericRecords.save({ content: { hello: 'world' }, tags: { kind: 'greeting', urgent: true } })

    const second = agentOn(await fx.secondWorker())
    agents.push(second)
    await second.initialize()
    const found = await second.genericRecords.findAllByQuery({ kind: 'greeting', urgent: true })
    expect(found.map((r) => r.id)).toEqual([saved.id])
    expect(found[0]!.content).toEqual({ hello: 'world' })
    expect(await second.genericRecords.findAllByQuery({ urgent: 'true' })).toEqual([])
  })

  it('without the provisioning step, Credo refuses a fresh store (the gotcha the module removes)', async () => {
    const agent = agentOn(fx.storage, false)
    agents.push(agent)
    await expect(agent.initialize()).rejects.toThrow(/not up to date/)
  })

  it('provisioning never overwrites an existing version, nor stamps a store that already has records', async () => {
    const ctx = agentContextFor('default')
    const old = new StorageVersionRecord({ storageVersion: '0.4' })
    await fx.storage.save(ctx, old)
    expect(await fx.storage.provisionContext('default')).toBe(false)
    expect((await fx.storage.getById(ctx, StorageVersionRecord, old.id)).storageVersion).toBe('0.4')

    // A store with data but no version record predates version records: Credo must migrate it.
    const legacy = agentContextFor('legacy')
    const record = new StorageVersionRecord({ storageVersion: '0.1' })
    record.id = 'not-the-version-record'
    await fx.storage.save(legacy, record)
    expect(await fx.storage.provisionContext('legacy')).toBe(false)
    expect(await fx.storage.getAll(legacy, StorageVersionRecord)).toHaveLength(1)

    expect(await fx.storage.provisionContext('brand-new')).toBe(true)
    expect(await fx.storage.provisionContext('brand-new')).toBe(false)
  })
})
