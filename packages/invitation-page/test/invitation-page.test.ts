import { describe, expect, it } from 'vitest'
import { escapeHtml, invitationFormat, renderInvitationPage } from '@mediator/invitation-page'

describe('invitationFormat', () => {
  it('gives browsers the page and keeps JSON for everything else', () => {
    expect(invitationFormat(undefined, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe('html')
    expect(invitationFormat(undefined, undefined)).toBe('json')
    expect(invitationFormat(undefined, '*/*')).toBe('json')
    expect(invitationFormat(undefined, 'application/json, text/html;q=0.5')).toBe('json')
    expect(invitationFormat(undefined, 'text/html;q=0')).toBe('json')
  })
  it('lets ?format= win over Accept', () => {
    expect(invitationFormat('url', 'text/html')).toBe('url')
    expect(invitationFormat('json', 'text/html')).toBe('json')
    expect(invitationFormat('html', 'application/json')).toBe('html')
  })
})

describe('renderInvitationPage', () => {
  it('escapes the URL and the label', async () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
    const html = await renderInvitationPage({ url: 'https://m.example?oob=a"><script>x</script>', label: '<img src=x>' })
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<img')
    expect(html).toContain('&lt;script&gt;')
    expect(html).toContain('<svg')
  })
})
