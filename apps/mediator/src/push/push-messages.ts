import { DidCommMessage, DidCommProblemReportError, DidCommProblemReportMessage, parseMessageType } from '@credo-ts/didcomm'
import type { PushService } from '@mediator/push-notifications'

/*
 * push-notifications-fcm/1.0 (Aries RFC 0734) and push-notifications-apns/1.0 (RFC 0699), the side
 * that stores device info and sends notifications. As with the keylist messages, the classes carry
 * no class-validator decorators: the wire fields arrive as sent and the handlers validate them with
 * zod, so a bad field is a problem report naming it, not a generic parse failure.
 */

export const PUSH_PROTOCOLS: Record<PushService, string> = {
  fcm: 'https://didcomm.org/push-notifications-fcm/1.0',
  apns: 'https://didcomm.org/push-notifications-apns/1.0',
}

/** Problem code of a set-device-info whose fields are not a valid device. */
export const INVALID_DEVICE_INFO = 'invalid-device-info'

export class FcmSetDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.fcm}/set-device-info`)
  public override readonly type = FcmSetDeviceInfoMessage.type.messageTypeUri
  public device_token?: unknown
  public device_platform?: unknown
}

export class ApnsSetDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.apns}/set-device-info`)
  public override readonly type = ApnsSetDeviceInfoMessage.type.messageTypeUri
  public device_token?: unknown
}

export class FcmGetDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.fcm}/get-device-info`)
  public override readonly type = FcmGetDeviceInfoMessage.type.messageTypeUri
}

export class ApnsGetDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.apns}/get-device-info`)
  public override readonly type = ApnsGetDeviceInfoMessage.type.messageTypeUri
}

/** device-info, the answer to get-device-info: the stored device, or nulls when there is none. */
export class FcmDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.fcm}/device-info`)
  public override readonly type = FcmDeviceInfoMessage.type.messageTypeUri
  public device_token: string | null = null
  public device_platform: string | null = null

  public constructor(options?: { threadId: string; token: string | null; platform: string | null }) {
    super()
    if (options) {
      this.id = this.generateId()
      this.device_token = options.token
      this.device_platform = options.platform
      this.setThread({ threadId: options.threadId })
    }
  }
}

export class ApnsDeviceInfoMessage extends DidCommMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.apns}/device-info`)
  public override readonly type = ApnsDeviceInfoMessage.type.messageTypeUri
  public device_token: string | null = null

  public constructor(options?: { threadId: string; token: string | null }) {
    super()
    if (options) {
      this.id = this.generateId()
      this.device_token = options.token
      this.setThread({ threadId: options.threadId })
    }
  }
}

class FcmProblemReportMessage extends DidCommProblemReportMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.fcm}/problem-report`)
  public override readonly type = FcmProblemReportMessage.type.messageTypeUri
}

class ApnsProblemReportMessage extends DidCommProblemReportMessage {
  public static override readonly type = parseMessageType(`${PUSH_PROTOCOLS.apns}/problem-report`)
  public override readonly type = ApnsProblemReportMessage.type.messageTypeUri
}

/**
 * A problem report of the push protocol itself (`…/push-notifications-fcm/1.0/problem-report`), so
 * Credo's dispatcher threads it on the wallet's set-device-info as the RFC's problem-report.
 */
export class PushProblemReportError extends DidCommProblemReportError {
  public constructor(service: PushService, message: string, problemCode = INVALID_DEVICE_INFO) {
    super(message, { problemCode })
    const Report = service === 'fcm' ? FcmProblemReportMessage : ApnsProblemReportMessage
    this.problemReport = new Report({ description: { en: message, code: problemCode } })
  }
}
