export { invitationFormat, type InvitationFormat } from './negotiation.js'
export { escapeHtml } from './html.js'
export { renderInvitationPage, INVITATION_PAGE_CSP } from './page.js'
export { renderTerminalQr } from './terminal.js'
