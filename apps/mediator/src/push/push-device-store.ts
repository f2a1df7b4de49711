import { RecordDuplicateError, RecordNotFoundError, type AgentContext } from '@credo-ts/core'
import { RecordConcurrencyError } from '@mediator/storage-postgres'
import type { DeviceInfo, PushService } from '@mediator/push-notifications'
import { PushDeviceRecord, pushDeviceRepository } from './push-device-record.js'

/** Reads and writes wallets' push devices; the only code that touches PushDeviceRecords. */
export class PushDeviceStore {
  /** Stores (or replaces) the device of `connectionId` for `device.service`. */
  public async set(agentContext: AgentContext, connectionId: string, device: DeviceInfo): Promise<void> {
    const repository = pushDeviceRepository(agentContext)
    const fresh = new PushDeviceRecord({ connectionId, service: device.service, token: device.token, platform: device.platform })
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await repository.findById(agentContext, fresh.id)
        if (!current) {
          await repository.save(agentContext, fresh)
          return
        }
        current.token = device.token
        current.platform = device.platform
        await repository.update(agentContext, current)
        return
      } catch (error) {
        // Another worker stored this wallet's device at the same moment: read again and write ours.
        const raced = error instanceof RecordDuplicateError || error instanceof RecordConcurrencyError
        if (!raced || attempt >= 3) throw error
      }
    }
  }

  public async get(agentContext: AgentContext, connectionId: string, service: PushService): Promise<PushDeviceRecord | null> {
    return pushDeviceRepository(agentContext).findById(agentContext, PushDeviceRecord.idFor(connectionId, service))
  }

  /** Every device of a wallet (FCM and APNs), one indexed query. */
  public async list(agentContext: AgentContext, connectionId: string): Promise<PushDeviceRecord[]> {
    return pushDeviceRepository(agentContext).findByQuery(agentContext, { connectionId })
  }

  /**
   * Removes the wallet's device for `service`; with `onlyToken`, only if it still has that token (a
   * wallet that set a new token while a push with the old one failed keeps the new one, except in the
   * instant between this read and the delete).
   */
  public async remove(agentContext: AgentContext, connectionId: string, service: PushService, onlyToken?: string): Promise<boolean> {
    const repository = pushDeviceRepository(agentContext)
    const current = await repository.findById(agentContext, PushDeviceRecord.idFor(connectionId, service))
    if (!current || (onlyToken !== undefined && current.token !== onlyToken)) return false
    try {
      await repository.delete(agentContext, current)
    } catch (error) {
      // Removed meanwhile by another worker.
      if (error instanceof RecordNotFoundError) return false
      throw error
    }
    return true
  }
}
