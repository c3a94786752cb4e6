#!/usr/bin/env node
/** `devsec` (see cli/main.ts): `devsec --help` lists the commands. */
import { main } from '../cli/main';

main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  isTTY: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  env: process.env,
  cwd: process.cwd(),
}).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    process.stderr.write(`devsec: ${error.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
