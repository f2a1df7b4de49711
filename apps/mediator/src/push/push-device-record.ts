import { BaseRecord, EventEmitter, InjectionSymbols, Repository, type AgentContext, type StorageService } from '@credo-ts/core'
import type { FcmPlatform, PushService } from '@mediator/push-notifications'

type PushDeviceTags = { connectionId: string; service: PushService }

export interface PushDeviceRecordProps {
  connectionId: string
  service: PushService
  token: string
  platform?: FcmPlatform
}

/**
 * A wallet's device for one push service (push-notifications-fcm or -apns), one record per connection
 * and service. Its id is derived from both, so two workers storing the same wallet's device at once
 * cannot create two records.
 */
export class PushDeviceRecord extends BaseRecord<PushDeviceTags> {
  public static override readonly type = 'PushDeviceRecord'
  public override readonly type = PushDeviceRecord.type

  public connectionId!: string
  public service!: PushService
  public token!: string
  public platform?: FcmPlatform

  public constructor(props?: PushDeviceRecordProps) {
    super()
    if (props) {
      this.id = PushDeviceRecord.idFor(props.connectionId, props.service)
      this.createdAt = new Date()
      this.connectionId = props.connectionId
      this.service = props.service
      this.token = props.token
      this.platform = props.platform
    }
  }

  public static idFor(connectionId: string, service: PushService): string {
    return `push-device-${service}-${connectionId}`
  }

  public getTags(): PushDeviceTags {
    return { ...this._tags, connectionId: this.connectionId, service: this.service }
  }
}

/** The repository of PushDeviceRecords on the agent's storage (Postgres: shared by every worker). */
export function pushDeviceRepository(agentContext: AgentContext): Repository<PushDeviceRecord> {
  return new Repository(
    PushDeviceRecord,
    agentContext.resolve<StorageService<PushDeviceRecord>>(InjectionSymbols.StorageService),
    agentContext.resolve(EventEmitter),
  )
}
