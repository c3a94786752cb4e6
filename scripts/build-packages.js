#!/usr/bin/env node
// Builds the publishable packages into dist/packages/<name>, and with --pack also packs each
// into dist/<npm-name>-<version>.tgz (what the e2e suite and the demo install).
'use strict';
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const args = process.argv.slice(2);
const pack = args.includes('--pack');
const wanted = args.filter((arg) => !arg.startsWith('--'));
const targets = wanted.length > 0 ? wanted : ['socket-proxy', 'devsec'];

/** Copies files under `from` whose path (relative to `from`) passes `keep`. */
function copyTree(from, to, keep) {
  for (const entry of readdirSync(from, { recursive: true })) {
    const source = join(from, String(entry));
    if (statSync(source).isDirectory() || !keep(String(entry))) continue;
    const target = join(to, String(entry));
    mkdirSync(join(target, '..'), { recursive: true });
    cpSync(source, target);
  }
}

const builders = {
  'socket-proxy': (out) => {
    const pkg = join(root, 'packages/socket-proxy');
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.lib.json')], { stdio: 'inherit' });
    for (const file of ['package.json', 'Dockerfile', 'README.md']) cpSync(join(pkg, file), join(out, file));
  },
  devsec: (out) => {
    const pkg = join(root, 'packages/devsec');
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.lib.json')], { stdio: 'inherit' });
    for (const file of ['package.json', 'generators.json', 'executors.json', 'README.md']) cpSync(join(pkg, file), join(out, file));
    copyTree(join(pkg, 'src'), join(out, 'src'), (file) => file.endsWith('schema.json') || file.endsWith('live-probe.js') || file.split(/[\\/]/).includes('files'));
  },
};

for (const name of targets) {
  const out = join(root, 'dist/packages', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  builders[name](out);
  if (pack) {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', join(root, 'dist')], { cwd: out, encoding: 'utf-8' }).trim().split('\n').pop();
    console.log(`packed ${relative(root, join(root, 'dist', tarball))}`);
  } else {
    console.log(`built ${relative(root, out)}`);
  }
}
if (!existsSync(join(root, 'dist'))) process.exit(1);
