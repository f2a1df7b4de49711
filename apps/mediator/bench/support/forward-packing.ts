import { randomUUID } from 'node:crypto'
import type { AgentContext } from '@credo-ts/core'
import type { EnvelopePacker } from '../../src/forward/index.js'

/** Where a forward goes: the wallet's registered key (`to`) and the mediator's routing key. */
export interface ForwardTarget {
  recipientKey: string
  routingKey: string
}

/** A forward ready to POST, and the tag of its inner envelope by which the wallet reports it. */
export interface PackedForward {
  body: string
  tag: string
}

/**
 * Forwards as another agent sends them: an anoncrypted basic message inside a forward anoncrypted to
 * the routing key, `count` of them spread over `targets` in turn.
 */
export async function packForwards(
  packer: EnvelopePacker,
  ctx: AgentContext,
  targets: readonly ForwardTarget[],
  count: number,
  offset = 0,
): Promise<PackedForward[]> {
  if (targets.length === 0) throw new Error('no forward targets')
  const forwards: PackedForward[] = []
  for (let i = 0; i < count; i++) {
    const target = targets[(offset + i) % targets.length] as ForwardTarget
    const inner = await packer.pack(
      ctx,
      { '@type': 'https://didcomm.org/basicmessage/1.0/message', '@id': randomUUID(), sent_time: new Date().toISOString(), content: `bench ${i}` },
      { recipientKeys: [target.recipientKey] },
    )
    const forward = { '@type': 'https://didcomm.org/routing/1.0/forward', '@id': randomUUID(), to: target.recipientKey, msg: inner }
    const outer = await packer.pack(ctx, forward, { recipientKeys: [target.routingKey] })
    forwards.push({ body: JSON.stringify(outer), tag: inner.tag })
  }
  return forwards
}
