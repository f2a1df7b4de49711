import { renderTerminalQr } from '@mediator/invitation-page'

/** Waits for the worker's invitation and prints where wallets connect, the URL and its QR code. */
export async function announceInvitation(opts: {
  opsPort: number
  publicUrl: string
  stopped: () => boolean
  timeoutMs?: number
}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000)
  while (!opts.stopped() && Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${opts.opsPort}/invitation?format=url`)
      if (res.ok) {
        const url = await res.text()
        const qr = await renderTerminalQr(url)
        process.stdout.write(
          `\nMediator ready.\n  public endpoint: ${opts.publicUrl} (HTTP and WebSocket)\n` +
            `  invitation page: ${opts.publicUrl}/invitation (open it in a browser to scan the QR code)\n` +
            `  invitation URL:  ${url}\n\n${qr}\n`,
        )
        return
      }
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}
