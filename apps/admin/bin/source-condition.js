// Module resolution hook: adds the `source` export condition, under which every workspace package
// resolves to its TypeScript sources (as in the tests), so nothing needs to be built first.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'source'] })
}
