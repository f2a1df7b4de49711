import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/** Renders a Vega-Lite spec to PNG with no browser: Vega's SVG renderer in Node, then resvg. */
export async function renderPng(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  writeFileSync(file, new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng())
}

type Row = Record<string, string | number | null>

const base = (title: string, values: Row[]) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title,
  width: 520,
  height: 260,
  data: { values },
})

export function lineChart(title: string, values: Row[], x: { field: string; title: string }, y: { field: string; title: string }, color?: { field: string; title: string }): TopLevelSpec {
  return {
    ...base(title, values),
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x.field, type: 'quantitative', title: x.title },
      y: { field: y.field, type: 'quantitative', title: y.title },
      ...(color ? { color: { field: color.field, type: 'nominal', title: color.title } } : {}),
    },
  } as TopLevelSpec
}

export function barChart(title: string, values: Row[], x: { field: string; title: string }, y: { field: string; title: string }, color?: { field: string; title: string }): TopLevelSpec {
  return {
    ...base(title, values),
    mark: 'bar',
    encoding: {
      x: { field: x.field, type: 'ordinal', title: x.title },
      y: { field: y.field, type: 'quantitative', title: y.title, stack: color ? 'zero' : undefined },
      ...(color ? { color: { field: color.field, type: 'nominal', title: color.title } } : {}),
    },
  } as TopLevelSpec
}

/** Writes each named chart into `dir` as `<name>.png`; returns the file names written. */
export async function writeCharts(dir: string, charts: Record<string, TopLevelSpec>): Promise<string[]> {
  const names: string[] = []
  for (const [name, spec] of Object.entries(charts)) {
    await renderPng(spec, join(dir, `${name}.png`))
    names.push(`${name}.png`)
  }
  return names
}
