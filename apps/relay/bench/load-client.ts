/**
 * One load process of the relay benchmark: opens its share of WebSockets, sends one envelope on each
 * (as a wallet sends its live-mode request; the orchestrator finds the socket by that job), keeps them
 * open, and reports
 * every frame it receives (the send id and when it arrived) to the orchestrator over IPC.
 * A process may hold at most 20,000 open files, hence several of these.
 */
import { performance } from 'node:perf_hooks'
import { WebSocket } from 'ws'

export interface LoadClientTask {
  targets: string[]
  count: number
  localAddress: string
  concurrency: number
}

/** An authcrypted envelope's shape (the relay reads only its protected header): a wallet's first frame. */
const HELLO = JSON.stringify({
  protected: Buffer.from(JSON.stringify({ enc: 'xchacha20poly1305_ietf', typ: 'JWM/1.0', alg: 'Authcrypt', recipients: [{ encrypted_key: 'aw', header: { kid: 'wallet' } }] })).toString('base64url'),
  iv: 'aXY',
  ciphertext: 'aGVsbG8',
  tag: 'dGFn',
})

const sockets: WebSocket[] = []
let failed = 0

function send(msg: unknown): void {
  process.send?.(msg)
}

function onMessage(data: Buffer): void {
  const t = performance.timeOrigin + performance.now()
  // The send id is the first field of the body: `{"id":"...",`
  const end = data.indexOf(0x22, 7)
  send({ type: 'received', id: data.subarray(7, end).toString('latin1'), t })
}

function open(url: string, localAddress: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress, handshakeTimeout: 30_000 })
    ws.once('open', () => {
      sockets.push(ws)
      ws.send(HELLO)
      resolve(true)
    })
    ws.on('error', () => resolve(false))
    ws.on('message', onMessage)
  })
}

async function run(task: LoadClientTask): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < task.count) {
      const i = next++
      const url = task.targets[i % task.targets.length]!
      if (!(await open(url, task.localAddress)) && !(await open(url, task.localAddress))) failed++
    }
  }
  await Promise.all(Array.from({ length: task.concurrency }, worker))
  send({ type: 'connected', open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, failed })
}

process.on('message', (msg: { type: string } & Partial<LoadClientTask>) => {
  if (msg.type === 'start') void run(msg as LoadClientTask)
  if (msg.type === 'status') {
    send({ type: 'status', open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, failed })
  }
  if (msg.type === 'stop') {
    for (const s of sockets) s.terminate()
    process.exit(0)
  }
})
send({ type: 'ready' })
