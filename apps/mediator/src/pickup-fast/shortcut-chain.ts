import type { InboundMessageJob } from '@mediator/contracts'
import type { Logger } from '@mediator/config'
import type { InboundShortcut, ShortcutResult } from '../inbound/job-processor.js'

/** Several fast paths in the one `shortcut` slot of JobProcessor: the first that takes the message wins. */
export class ShortcutChain implements InboundShortcut {
  private readonly shortcuts: readonly InboundShortcut[]

  public constructor(shortcuts: ReadonlyArray<InboundShortcut | undefined>) {
    this.shortcuts = shortcuts.filter((s): s is InboundShortcut => s !== undefined)
  }

  public async tryHandle(job: InboundMessageJob, envelope: Record<string, unknown>, log: Logger): Promise<ShortcutResult> {
    for (const shortcut of this.shortcuts) {
      const result = await shortcut.tryHandle(job, envelope, log)
      if (result) return result
    }
    return false
  }
}
