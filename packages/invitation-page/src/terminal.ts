import QRCode from 'qrcode'

/** The QR code of `url` drawn with block characters, for a terminal (two modules per character row). */
export function renderTerminalQr(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'terminal', small: true, errorCorrectionLevel: 'L' })
}
