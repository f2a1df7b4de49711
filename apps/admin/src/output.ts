import type { Writable } from 'node:stream'

/** Where a command writes: the result on stdout (text or JSON), never anything else there. */
export interface Output {
  readonly json: boolean
  /** Human text, one line each; ignored in JSON mode. */
  line(text?: string): void
  /** The command's result: printed as JSON in JSON mode, through `text` otherwise. */
  result<T>(value: T, text: (value: T) => void): void
}

export function createOutput(stdout: Writable, json: boolean): Output {
  return {
    json,
    line(text = '') {
      if (!json) stdout.write(`${text}\n`)
    },
    result(value, text) {
      if (json) stdout.write(`${JSON.stringify(value, null, 2)}\n`)
      else text(value)
    },
  }
}

/** Rows as aligned columns, headers first; the last column is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [render(headers), ...rows.map(render)]
}

/** Cuts long text (error reasons) to fit a table cell. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ')
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`
}
