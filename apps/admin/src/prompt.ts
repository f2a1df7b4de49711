import { createInterface } from 'node:readline/promises'
import type { Readable, Writable } from 'node:stream'

/** Asks the operator a yes/no question; only an explicit yes is a yes. */
export interface Prompt {
  confirm(question: string): Promise<boolean>
}

/** Asks on a terminal; without one (a script, a pipe) every question is answered no. */
export function terminalPrompt(stdin: Readable & { isTTY?: boolean }, stderr: Writable): Prompt {
  return {
    async confirm(question) {
      if (!stdin.isTTY) return false
      const rl = createInterface({ input: stdin, output: stderr })
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim())
      } finally {
        rl.close()
      }
    },
  }
}
