import { DidCommMessage, DidCommMessageHandlerRegistry, DidCommMessageSender, DidCommOutboundMessageContext, parseMessageType } from '@credo-ts/didcomm'
import type { DidCommConnectionRecord } from '@credo-ts/didcomm'
import type { createCredoAgent } from '@mediator/credo-runtime'

type Agent = ReturnType<typeof createCredoAgent>
type Service = 'fcm' | 'apns'
export type PushAnswer = Record<string, unknown> & { '@type': string; '@id': string; '~thread'?: { thid?: string } }

const protocols: Record<Service, string> = {
  fcm: 'https://didcomm.org/push-notifications-fcm/1.0',
  apns: 'https://didcomm.org/push-notifications-apns/1.0',
}

/*
 * The wallet side of push-notifications-fcm/1.0 and -apns/1.0, as a wallet sends it. Credo's own
 * @credo-ts/push-notifications (0.7) needs Credo 0.5, so these are plain DidCommMessage classes: their
 * fields go on the wire as set here, malformed ones included (for the bad-input tests).
 */
function messageClass(service: Service, name: string) {
  const type = parseMessageType(`${protocols[service]}/${name}`)
  return class extends DidCommMessage {
    public static override readonly type = type
    public override readonly type = type.messageTypeUri
    public constructor(fields?: Record<string, unknown>) {
      super()
      if (fields) {
        this.id = this.generateId()
        Object.assign(this, fields)
      }
    }
  }
}

const outgoing = {
  fcm: { set: messageClass('fcm', 'set-device-info'), get: messageClass('fcm', 'get-device-info') },
  apns: { set: messageClass('apns', 'set-device-info'), get: messageClass('apns', 'get-device-info') },
}
const answers = (['fcm', 'apns'] as const).flatMap((s) => [messageClass(s, 'device-info'), messageClass(s, 'problem-report')])

/**
 * Lets a Credo wallet set and read its device info at the mediator. Answers (device-info,
 * problem-report) are kept as JSON; call again after the wallet's agent was replaced.
 */
export function pushWallet(agent: Agent, connection: DidCommConnectionRecord) {
  const captured: PushAnswer[] = []
  agent.dependencyManager.resolve(DidCommMessageHandlerRegistry).registerMessageHandler({
    supportedMessages: answers,
    handle: async (context) => {
      captured.push(context.message.toJSON() as PushAnswer)
      return undefined
    },
  })
  const sender = agent.dependencyManager.resolve(DidCommMessageSender)
  const send = async (message: DidCommMessage) => {
    await sender.sendMessage(new DidCommOutboundMessageContext(message, { agentContext: agent.context, connection }))
    return message.id
  }
  const answerTo = async (id: string, timeoutMs = 20_000): Promise<PushAnswer> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = captured.find((m) => m['~thread']?.thid === id)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no answer to ${id} within ${timeoutMs} ms; got ${JSON.stringify(captured)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    captured,
    /** Sends set-device-info with exactly these fields; resolves with the message id. */
    setDeviceInfo: (service: Service, fields: Record<string, unknown>) => send(new outgoing[service].set(fields)),
    /** Sends get-device-info and resolves with the device-info answer. */
    async getDeviceInfo(service: Service): Promise<PushAnswer> {
      return answerTo(await send(new outgoing[service].get({})))
    },
    /** The answer (device-info or problem-report) threaded on message `id`. */
    answerTo,
    /** Reads the device info until `check` holds (set-device-info has no answer of its own). */
    async waitForDeviceInfo(service: Service, check: (answer: PushAnswer) => boolean, timeoutMs = 20_000): Promise<PushAnswer> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const answer = await this.getDeviceInfo(service)
        if (check(answer)) return answer
        if (Date.now() > deadline) throw new Error(`device info never matched; last ${JSON.stringify(answer)}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    },
  }
}
