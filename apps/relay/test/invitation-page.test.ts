import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import jsqrModule from 'jsqr'
import { PNG } from 'pngjs'
import { chromiumPath, screenshot } from '@mediator/test-support'
import { relayFixture } from './support.js'
import type { RelayFixture, TestRelay } from './support.js'

// An invitation URL as long as a real one, with characters that must be escaped in HTML.
const published = {
  url: `http://127.0.0.1:3000?oob=${'eyJAdHlwZSI6Imh0dHBzOi8vZGlkY29tbS5vcmcvb3V0LW9mLWJhbmQvMS4xL2ludml0YXRpb24i'.repeat(8)}&x="<b>"`,
  invitation: { '@type': 'https://didcomm.org/out-of-band/1.1/invitation', label: '<script>alert(1)</script>' },
}
const browser = chromiumPath()
// jsqr is CommonJS with an ES-style default: under NodeNext typing the default import is the module.
const jsQR = (jsqrModule as unknown as { default: typeof jsqrModule.default }).default ?? (jsqrModule as unknown as typeof jsqrModule.default)

describe('GET /invitation as a page with a QR code', () => {
  let f: RelayFixture
  let r: TestRelay
  let redis: Redis

  beforeAll(async () => {
    f = await relayFixture('relay-invitation-page')
    r = await f.start()
    redis = new Redis(f.t.redisUrl)
    await redis.set(f.keys.invitation, JSON.stringify(published))
  })
  afterAll(async () => {
    redis.disconnect()
    await f.cleanup()
  })

  it('gives a browser the page, and fetch and wallets the JSON and URL forms as before', async () => {
    const page = await fetch(new URL('/invitation', r.httpUrl), { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await page.text()
    expect(html).toContain('<svg')
    expect(html).not.toContain('"<b>"')
    expect(html).toContain('&quot;&lt;b&gt;&quot;')

    const json = await fetch(new URL('/invitation', r.httpUrl), { headers: { accept: 'application/json' } })
    expect(await json.json()).toEqual(published)
    expect(await (await fetch(new URL('/invitation', r.httpUrl))).json()).toEqual(published)
    const forced = await fetch(new URL('/invitation?format=json', r.httpUrl), { headers: { accept: 'text/html' } })
    expect(await forced.json()).toEqual(published)
    const url = await fetch(new URL('/invitation?format=url', r.httpUrl), { headers: { accept: 'text/html' } })
    expect(await url.text()).toBe(published.url)
  })

  it.skipIf(!browser)('renders in headless Chromium and its QR code decodes to the invitation URL', async () => {
    const png = PNG.sync.read(await screenshot(new URL('/invitation', r.httpUrl).toString()))
    const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)
    expect(code?.data).toBe(published.url)
  })
})

if (!browser) console.warn('invitation-page.test: chromium not found; the browser check is skipped (run scripts/install-test-deps.sh)')
