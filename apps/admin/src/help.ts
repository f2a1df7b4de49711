/** What `--help` prints: the commands, their flags and where the cluster is taken from. */
export const GENERAL_HELP = `mediator-admin: the operator's tool for a mediator cluster

usage: mediator-admin <command> [arguments] [flags]

commands
  status                          relays, workers, inbound queue, live sessions, dead letters, pickup queues
  dead-letters list [filters]     dead letters, newest failure first (50 unless --limit)
  dead-letters show <id>          one dead letter with its job and error
  dead-letters replay <id...>     put dead letters back on the inbound queue (or --all [filters])
  dead-letters purge <id...>      remove dead letters for good (or --all [filters]); asks, or --yes
  queue <connection id | key>     one wallet's pickup queue; a key is a did:key or base58 recipient key
  invitation                      the mediator's invitation URL

filters (list, replay --all, purge --all)
  --since <when>       failed at or after: a duration back (90s, 15m, 2h, 7d, 1w) or an ISO date
  --until <when>       failed at or before
  --error <text>       the failure reason contains the text (any case)
  --recipient <key>    the envelope is encrypted to the key, or the reason names it
  --connection <id>    the reason names the connection (a wallet's queue at its cap)
  --relay <id>         stored by that relay
  --socket <id>        came in on that socket or HTTP request
  --kind <kind>        message, socket-opened or socket-closed
  --limit <n>          at most n

flags
  --json               the result as JSON on stdout (every command); errors too, as {"error": ...}
  --all                replay/purge: every dead letter the filters select
  --yes                purge: do not ask
  --redis-url <url>    overrides REDIS_URL       (default redis://127.0.0.1:6379)
  --prefix <prefix>    overrides REDIS_PREFIX    (default mediator)
  --database-url <url> overrides DATABASE_URL    (default postgres://postgres@127.0.0.1:5432/test; queue only)
  --schema <name>      overrides DATABASE_SCHEMA (default mediator; queue only)
  -h, --help           this text

exit codes: 0 done, 1 failed (a store unreachable), 2 bad command line, 3 unknown id or key,
4 purge not confirmed. More in docs/operations.md.
`
