#!/usr/bin/env node
import { main } from '../src/main';

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error) => {
    process.stderr.write(`devsec-socket-proxy: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 1;
  });
