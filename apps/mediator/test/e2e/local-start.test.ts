import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DidCommMediationState } from '@credo-ts/didcomm'
import { startSender, startWallet, type TestSender, type TestWallet } from '../support/agents.js'
import { isAlive, LocalStart, pickLocalStartPorts, tcpSocketsOf, type LocalStartPorts } from '../support/local-start.js'

/** The out-of-band message in an invitation URL (its JSON key order may differ once read back from Postgres). */
function decodeInvitation(url: string): unknown {
  return JSON.parse(Buffer.from(new URL(url).searchParams.get('oob') ?? '', 'base64url').toString('utf8'))
}

const SYSTEM_PORTS = [5432, 6379]
const LISTEN = '0A'

/**
 * `npm start` on a machine with no Postgres or Redis of its own to use: the start script, with
 * DATABASE_URL and REDIS_URL unset, runs an embedded Postgres and a private redis-server in its state
 * directory, and a real Credo wallet gets mediation, forwards and live pickup from it — across a
 * restart (Ctrl-C, start again) that keeps the mediator's keys, the mediation and the queued messages.
 */
describe('npm start on stores it owns', () => {
  let base: string
  let ports: LocalStartPorts
  let run: LocalStart | undefined
  let wallet: TestWallet | undefined
  let sender: TestSender | undefined

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'local-start-'))
    // As root the embedded Postgres runs as an unprivileged user that must pass through this directory.
    chmodSync(base, 0o711)
    ports = await pickLocalStartPorts()
  })
  afterAll(async () => {
    await sender?.close()
    await wallet?.close()
    await run?.interrupt()
    rmSync(base, { recursive: true, force: true })
  })

  const start = () => LocalStart.spawn({ stateDir: join(base, 'state'), ports })

  /** Ctrl-C, then: the script exited 0 and nothing it started is still running. */
  async function stopAndCheckNothingLeft(r: LocalStart): Promise<void> {
    const tree = r.processTree()
    expect(tree.length).toBeGreaterThanOrEqual(5) // script, relay, worker, postgres (+ its helpers), redis
    expect(await r.interrupt()).toBe(0)
    await expect.poll(() => tree.filter(isAlive), { timeout: 10_000 }).toEqual([])
  }

  it('serves mediation, forward and live pickup without touching the system Postgres or Redis', async () => {
    run = start()
    const invitation = await run.invitationUrl()
    wallet = await startWallet('local_start')
    const { mediation } = await wallet.obtainMediation(invitation)
    expect(mediation.state).toBe(DidCommMediationState.Granted)
    await wallet.agent.didcomm.mediationRecipient.initiateMessagePickup(mediation)

    sender = await startSender('local_start')
    const connection = await sender.connectTo(wallet)
    await sender.agent.didcomm.basicMessages.sendMessage(connection.id, 'live 1')
    await wallet.inbox.waitFor(['live 1']).catch((error: Error) => {
      throw new Error(`${error.message}\n${run?.output()}`)
    })

    // Every process of the stack, its sockets read from /proc: connections to the stores it started,
    // none to the system's.
    const sockets = tcpSocketsOf(run.processTree())
    const connected = sockets.filter((s) => s.state !== LISTEN).map((s) => s.remotePort)
    expect(connected).toContain(ports.postgresPort)
    expect(connected).toContain(ports.redisPort)
    expect(sockets.filter((s) => SYSTEM_PORTS.includes(s.remotePort) || SYSTEM_PORTS.includes(s.localPort))).toEqual([])
    const listening = sockets.filter((s) => s.state === LISTEN).map((s) => s.localPort)
    expect(listening).toEqual(expect.arrayContaining([ports.postgresPort, ports.redisPort, ports.publicPort]))

    // Offline wallet: what arrives now waits in the mediator's queue, through the restart below.
    await wallet.goOffline()
    for (const m of ['queued 1', 'queued 2']) await sender.sendUntilAccepted(connection.id, m)
    await stopAndCheckNothingLeft(run)

    // Second start on the same state directory: same invitation (same keys and records).
    run = start()
    expect(decodeInvitation(await run.invitationUrl())).toEqual(decodeInvitation(invitation))
    await wallet.comeOnline()
    await wallet.inbox.waitFor(['queued 1', 'queued 2']).catch((error: Error) => {
      throw new Error(`${error.message}\n${run?.output()}`)
    })
    // The mediation survived too: a new forward reaches the wallet live.
    await sender.sendUntilAccepted(connection.id, 'live 2')
    await wallet.inbox.waitFor(['live 2'])
    expect(tcpSocketsOf(run.processTree()).filter((s) => SYSTEM_PORTS.includes(s.remotePort))).toEqual([])

    await wallet.goOffline()
    await stopAndCheckNothingLeft(run)
    run = undefined
  })
})
