/**
 * The dev container's node_modules is a volume of its stack: what the agent installs never
 * reaches the host's, whose packages the host later runs. On the first start it is filled — from
 * the host's installed tree (mounted read-only beside it) when host and container are the same
 * platform (OS, architecture, C library: native packages such as Nx's own binaries must match),
 * otherwise by `npm ci` from the lockfile — never copied back. It is kept afterwards, so the
 * agent's own installs survive a restart; refilling after the host's lockfile changed is asked
 * for by name (`--refill-node-modules`), and throws away what the agent installed.
 */

/** Where the host's node_modules appears inside, read-only. */
export const HOST_NODE_MODULES_INSIDE = '/devsec/host-node_modules';

/** The workspace's package manager release, read-only inside (host/stack/package-manager-plan.ts). */
export const PACKAGE_MANAGER_INSIDE = '/devsec/package-manager';

/**
 * The host's package store, read-only inside: each a folder whose one entry the fill copies into
 * node_modules (`<node_modules>/<name>`) together with the host's tree, in the same `cp -a`.
 */
export const HOST_PACKAGE_STORES_INSIDE = {
  pnpm: { path: '/devsec/.pnpm-store', name: '.pnpm-store' },
  yarn: { path: '/devsec/.yarn-global', name: '.yarn-global' },
} as const;

/**
 * Yarn 1's cache, read-only inside, and the list of its entries this workspace's yarn.lock names:
 * the fill copies those (not every project's packages) into `<node_modules>/<name>/v6`, where
 * YARN_CACHE_FOLDER points, so an install inside works offline (Yarn 1 installs only from its cache).
 */
export const YARN1_CACHE_INSIDE = { path: '/devsec/.yarn1-cache', name: '.yarn1-cache', entries: '/devsec/yarn1-cache-entries' } as const;

/** The host's node_modules/.modules.yaml naming the store's place inside (pnpm checks it). */
export const PNPM_MODULES_YAML_INSIDE = '/devsec/pnpm-modules.yaml';

/** `linux-x64-glibc`: what must match for a copied tree's native packages to load. */
export const PLATFORM_EXPRESSION = 'process.platform+"-"+process.arch+"-"+(process.report.getReport().header.glibcVersionRuntime?"glibc":"musl")';

/**
 * A shell expression printing a folder's first entry (empty when it has none). `find`, not `ls -A`:
 * coreutils' statx fails with EINVAL on gVisor's runsc 20221219 (Debian 12's).
 */
export const firstEntryOf = (folder: string, { quiet = false } = {}) =>
  `$(find "${folder}" -mindepth 1 -maxdepth 1 -print -quit${quiet ? ' 2>/dev/null' : ''})`;

/**
 * Yarn 1's cache entries yarn.lock names (the list the host wrote), into the volume's cache
 * where YARN_CACHE_FOLDER points; `$nm` is node_modules. Nothing when Yarn 1's cache is not mounted.
 */
export const COPY_YARN1_CACHE = [
  `if [ -f ${YARN1_CACHE_INSIDE.entries} ]; then`,
  `  mkdir -p "$nm/${YARN1_CACHE_INSIDE.name}/v6"`,
  `  (cd ${YARN1_CACHE_INSIDE.path} && xargs -r -d '\\n' cp -a -t "$nm/${YARN1_CACHE_INSIDE.name}/v6/" < ${YARN1_CACHE_INSIDE.entries})`,
  'fi',
];

/**
 * The host's installed tree (`$from`) into node_modules (`$nm`) with the package stores mounted
 * beside it (pnpm, Yarn Berry) in the same `cp -a`: files that are hard links of each other are
 * copied once. pnpm checks that node_modules came from the store it is given: .modules.yaml names
 * the store's place inside. Shared by the fill and clone mode's seed.
 */
export const COPY_HOST_INSTALL = [
  'stores=""',
  `for s in ${HOST_PACKAGE_STORES_INSIDE.pnpm.path} ${HOST_PACKAGE_STORES_INSIDE.yarn.path}; do if [ -d "$s" ]; then stores="$stores $s"; fi; done`,
  'cp -a "$from/." $stores "$nm/"',
  `if [ -f ${PNPM_MODULES_YAML_INSIDE} ]; then cp ${PNPM_MODULES_YAML_INSIDE} "$nm/.modules.yaml"; fi`,
];

/** Shell lines one level in (inside an `if`). */
export const indented = (lines: string[]) => lines.map((line) => `  ${line}`);

/**
 * Run inside as the container's user (by up-worktree, and by VS Code's postStartCommand): prints
 * one line saying what it did. DEVSEC_REFILL=1 empties the volume first.
 */
export const FILL_NODE_MODULES_SCRIPT = [
  'set -eu',
  'nm="$DEVSEC_WORKSPACE/node_modules"',
  `from=${HOST_NODE_MODULES_INSIDE}`,
  'if [ "${DEVSEC_REFILL:-}" = 1 ]; then find "$nm" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi',
  `if [ -n "${firstEntryOf('$nm')}" ]; then echo "node_modules: kept as it is (refill it from the host with --refill-node-modules)"; exit 0; fi`,
  `here=$(node -p '${PLATFORM_EXPRESSION}')`,
  // Yarn 1's cache entries first: the install below (other platform) reads them too.
  ...COPY_YARN1_CACHE,
  `if [ "$here" = "$DEVSEC_HOST_PLATFORM" ] && [ -n "${firstEntryOf('$from', { quiet: true })}" ]; then`,
  ...indented(COPY_HOST_INSTALL),
  '  echo "node_modules: copied from the host\'s install ($here)"',
  'else',
  '  cd "$DEVSEC_WORKSPACE"',
  '  case "${DEVSEC_PACKAGE_MANAGER:-npm}" in',
  '    pnpm) how="pnpm install --frozen-lockfile"; pnpm install --frozen-lockfile --reporter=append-only ;;',
  '    yarn) how="yarn install --immutable"; yarn install --immutable ;;',
  '    yarn1) how="yarn install --frozen-lockfile --offline"; yarn install --frozen-lockfile --offline --non-interactive ;;',
  '    *) how="npm ci"; npm ci --no-audit --no-fund --loglevel=error ;;',
  '  esac',
  '  echo "node_modules: installed with $how inside (the host is $DEVSEC_HOST_PLATFORM, this container $here)"',
  'fi',
].join('\n');
