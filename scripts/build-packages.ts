/**
 * Builds the publishable packages into dist/packages/<name>, and with --pack also packs each
 * into dist/<npm-name>-<version>.tgz (what the e2e suite and the demo install).
 *   npm run build:packages [-- socket-proxy devsec] [-- --pack]
 * The proxy is built first: the plugin types against its declarations.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
export const PACKAGES = ['socket-proxy', 'devsec'] as const;
export type PackageName = (typeof PACKAGES)[number];

/** Copies files under `from` whose path (relative to `from`) passes `keep`. */
function copyTree(from: string, to: string, keep: (file: string) => boolean): void {
  for (const entry of readdirSync(from, { recursive: true })) {
    const source = join(from, String(entry));
    if (statSync(source).isDirectory() || !keep(String(entry))) continue;
    const target = join(to, String(entry));
    // An asset must not replace what tsc compiled (a `x.js` beside an `x.ts` would).
    if (existsSync(target)) throw new Error(`${target} exists already: the asset ${source} would replace a compiled file; rename one of them`);
    mkdirSync(join(target, '..'), { recursive: true });
    cpSync(source, target);
  }
}

const tsc = (project: string) => execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { stdio: 'inherit' });

const BUILDERS: Record<PackageName, (out: string) => void> = {
  'socket-proxy': (out) => {
    const pkg = join(ROOT, 'packages/socket-proxy');
    tsc(join(pkg, 'tsconfig.lib.json'));
    for (const file of ['package.json', 'Dockerfile', 'README.md']) cpSync(join(pkg, file), join(out, file));
    // Vendored code (jsonc-parser's tokenizer): plain JS with its declarations and licence, as it is.
    copyTree(join(pkg, 'src/vendor'), join(out, 'src/vendor'), () => true);
    // The compiled plugin, run from dist/packages/devsec in this repo (the bench does), must find
    // this compiled package, not the workspace link in node_modules to its TypeScript sources.
    const link = join(ROOT, 'dist/packages/node_modules/@org/devsec-socket-proxy');
    rmSync(link, { recursive: true, force: true });
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), out), link, 'dir');
  },
  devsec: (out) => {
    const pkg = join(ROOT, 'packages/devsec');
    tsc(join(pkg, 'tsconfig.lib.json'));
    for (const file of ['package.json', 'generators.json', 'executors.json', 'migrations.json', 'README.md']) cpSync(join(pkg, file), join(out, file));
    copyTree(
      join(pkg, 'src'),
      join(out, 'src'),
      (file) => file.endsWith('schema.json') || file.split(/[\\/]/).includes('live-probe') || file.split(/[\\/]/).includes('files'),
    );
  },
};

/** Builds `names` (in dependency order, whatever order they are given in); throws when a step fails. */
export function buildPackages(names: readonly string[] = PACKAGES, { pack = false } = {}): void {
  const unknown = names.filter((name) => !(PACKAGES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown package ${unknown.join(', ')}: the packages are ${PACKAGES.join(', ')}`);
  for (const name of PACKAGES.filter((known) => names.includes(known))) {
    const out = join(ROOT, 'dist/packages', name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    BUILDERS[name](out);
    if (pack) {
      const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', join(ROOT, 'dist')], { cwd: out, encoding: 'utf-8' })
        .trim()
        .split('\n')
        .pop() as string;
      console.log(`packed ${relative(ROOT, join(ROOT, 'dist', tarball))}`);
    } else {
      console.log(`built ${relative(ROOT, out)}`);
    }
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const wanted = args.filter((arg) => !arg.startsWith('--'));
  try {
    buildPackages(wanted.length > 0 ? wanted : PACKAGES, { pack: args.includes('--pack') });
  } catch (error) {
    console.error(`build-packages: ${(error as Error).message}`);
    process.exit(1);
  }
}
