import {
  DidCommOutboundMessageContext,
  type DidCommInboundMessageContext,
  type DidCommMessageHandler,
} from '@credo-ts/didcomm'
import type { Logger } from '@mediator/config'
import { parseDeviceInfo } from '@mediator/push-notifications'
import type { PushDeviceStore } from './push-device-store.js'
import {
  ApnsDeviceInfoMessage,
  ApnsGetDeviceInfoMessage,
  ApnsSetDeviceInfoMessage,
  FcmDeviceInfoMessage,
  FcmGetDeviceInfoMessage,
  FcmSetDeviceInfoMessage,
  PushProblemReportError,
} from './push-messages.js'

/**
 * set-device-info of either protocol: validates, then stores the device (or removes it when the
 * wallet sent nulls). The RFCs define no answer to it; a bad field gets the protocol's problem report
 * and nothing is stored.
 */
export class SetDeviceInfoHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [FcmSetDeviceInfoMessage, ApnsSetDeviceInfoMessage]

  public constructor(
    private readonly store: PushDeviceStore,
    private readonly logger: Logger,
  ) {}

  public async handle(messageContext: DidCommInboundMessageContext<FcmSetDeviceInfoMessage | ApnsSetDeviceInfoMessage>) {
    const connection = messageContext.assertReadyConnection()
    const { agentContext, message } = messageContext
    const service = message instanceof FcmSetDeviceInfoMessage ? 'fcm' : 'apns'
    const fields =
      message instanceof FcmSetDeviceInfoMessage
        ? { device_token: message.device_token, device_platform: message.device_platform }
        : { device_token: message.device_token }
    const parsed = parseDeviceInfo({ service, fields })
    const log = this.logger.child({ connectionId: connection.id, service })
    if (!parsed.ok) {
      log.info({ reason: parsed.error }, 'set-device-info refused')
      throw new PushProblemReportError(service, `set-device-info refused: ${parsed.error}`)
    }
    if (parsed.value === null) {
      await this.store.remove(agentContext, connection.id, service)
      log.info('push device removed by the wallet')
    } else {
      await this.store.set(agentContext, connection.id, parsed.value)
      log.info({ platform: parsed.value.platform }, 'push device stored')
    }
    return undefined
  }
}

/** get-device-info of either protocol → device-info with what is stored (nulls when nothing). */
export class GetDeviceInfoHandler implements DidCommMessageHandler {
  public readonly supportedMessages = [FcmGetDeviceInfoMessage, ApnsGetDeviceInfoMessage]

  public constructor(private readonly store: PushDeviceStore) {}

  public async handle(messageContext: DidCommInboundMessageContext<FcmGetDeviceInfoMessage | ApnsGetDeviceInfoMessage>) {
    const connection = messageContext.assertReadyConnection()
    const { agentContext, message } = messageContext
    if (message instanceof FcmGetDeviceInfoMessage) {
      const record = await this.store.get(agentContext, connection.id, 'fcm')
      const answer = new FcmDeviceInfoMessage({ threadId: message.threadId, token: record?.token ?? null, platform: record?.platform ?? null })
      return new DidCommOutboundMessageContext(answer, { agentContext, connection })
    }
    const record = await this.store.get(agentContext, connection.id, 'apns')
    const answer = new ApnsDeviceInfoMessage({ threadId: message.threadId, token: record?.token ?? null })
    return new DidCommOutboundMessageContext(answer, { agentContext, connection })
  }
}
