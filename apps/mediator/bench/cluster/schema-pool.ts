import pg from 'pg'

/**
 * A pool on one schema of the run's Postgres (the wallets' keys, the mediator's records). An idle
 * client whose server went away (the chaos scenario stops Postgres for 20 s) makes the pool emit
 * 'error'; with nobody listening that would end the process, so it is noted and dropped: the pool
 * opens a new connection on its next query.
 */
export function schemaPool(url: string, schema: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, options: `-c search_path="${schema}"`, max })
  pool.on('error', () => undefined)
  return pool
}
