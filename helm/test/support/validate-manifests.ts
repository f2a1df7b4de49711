import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import ts from 'typescript'
import { KUBE_MODELS, kindKey } from './kube-models.js'
import type { Manifest } from './kube-models.js'
import { repoRoot } from './repo-root.js'

const require = createRequire(import.meta.url)

interface ModelClass {
  new (data: unknown): { validate(): void }
}

/**
 * Checks each manifest against the JSON schema of its apiVersion/kind (types, required fields, enums,
 * formats). Returns one line per problem, naming the manifest.
 */
export function schemaErrors(manifests: Manifest[]): string[] {
  const errors: string[] = []
  for (const m of manifests) {
    const model = KUBE_MODELS[kindKey(m)]
    if (!model) {
      errors.push(`${kindKey(m)} ${m.metadata?.name}: no schema for this kind`)
      continue
    }
    const Model = (require(model.module) as Record<string, ModelClass>)[m.kind]
    if (!Model) throw new Error(`${model.module} exports no ${m.kind}`)
    try {
      new Model(m).validate()
    } catch (error) {
      errors.push(`${kindKey(m)} ${m.metadata.name}: ${(error as Error).message}`)
    }
  }
  return errors
}

/**
 * The JSON schemas of the Kubernetes API allow unknown fields (the API server drops them, or refuses
 * them under strict validation), so a misspelt field would pass `schemaErrors`. TypeScript's excess
 * property check on object literals catches those at every depth: each manifest becomes a literal
 * typed with its kind's interface, and the compiler's diagnostics are the problems.
 */
export function unknownFieldErrors(manifests: Array<{ label: string; manifest: Manifest }>): string[] {
  const lines: string[] = []
  manifests.forEach(({ label, manifest: m }, i) => {
    const model = KUBE_MODELS[kindKey(m)]
    if (!model) return
    lines.push(`import type { ${model.typeName} as T${i} } from '${model.module}'`)
    lines.push(`// ${label}: ${kindKey(m)} ${m.metadata.name}`)
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(m)}`)
  })
  const dir = join(repoRoot, '.cache', 'manifest-types')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `manifests-${randomBytes(4).toString('hex')}.ts`)
  writeFileSync(file, lines.join('\n') + '\n')
  try {
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: [],
    })
    return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1
      // The comment line above each literal names the manifest.
      const name = line > 0 ? lines[line - 1]?.replace(/^\/\/ /, '') : ''
      return `${name}: ${text}`
    })
  } finally {
    rmSync(file, { force: true })
  }
}
