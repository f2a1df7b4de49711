/** The filter flags of `dead-letters list`, `replay --all` and `purge --all`, as given. */
export interface FilterFlags {
  since?: string
  until?: string
  error?: string
  recipient?: string
  connection?: string
  relay?: string
  socket?: string
  kind?: string
  limit?: string
}

export const FILTER_FLAG_NAMES = ['since', 'until', 'error', 'recipient', 'connection', 'relay', 'socket', 'kind', 'limit'] as const
