export { runCli, type CliIo } from './cli.js'
export { readStatus, type ClusterStatus } from './commands/status.js'
export { readWalletQueue, type QueueReport, type WalletQueue } from './commands/queue.js'
export { ExitCode } from './errors.js'
