import QRCode from 'qrcode'
import { escapeHtml } from './html.js'

/**
 * The header to send with the page: it loads nothing from anywhere, runs no script, and the QR code
 * is inline SVG.
 */
export const INVITATION_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

/**
 * The invitation as a page for a person with a phone: a QR code a wallet scans, the URL to copy, and
 * a link to the JSON form. Everything that comes from outside is escaped; the SVG is the QR library's
 * own output (paths and numbers only).
 */
export async function renderInvitationPage(opts: { url: string; label?: string; jsonHref?: string }): Promise<string> {
  const svg = await QRCode.toString(opts.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 })
  const label = escapeHtml(opts.label ?? 'Mediator invitation')
  const url = escapeHtml(opts.url)
  const jsonHref = escapeHtml(opts.jsonHref ?? '?format=json')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${label}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; padding: 0 1rem; color: #111; background: #fff; }
  .qr { width: min(100%, 32rem); margin: 1rem 0; }
  .qr svg { display: block; width: 100%; height: auto; }
  textarea { width: 100%; height: 7rem; font-family: ui-monospace, monospace; font-size: 0.8rem; }
</style>
</head>
<body>
<h1>${label}</h1>
<p>Scan with a DIDComm wallet to use this mediator, or paste the invitation URL into the wallet.</p>
<div class="qr">${svg}</div>
<p><label for="url">Invitation URL</label></p>
<textarea id="url" readonly>${url}</textarea>
<p><a href="${jsonHref}">The invitation as JSON</a></p>
</body>
</html>
`
}
