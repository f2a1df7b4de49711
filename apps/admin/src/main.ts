import { runCli } from './cli.js'

// Exit through exitCode, not process.exit(): what is still being written to a pipe gets written.
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
})
