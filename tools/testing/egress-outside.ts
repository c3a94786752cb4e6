import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedServiceGenerator } from '../../packages/devsec/src/generators/shared-service/generator';
import type { SecureDevcontainerGeneratorSchema } from '../../packages/devsec/src/generators/secure-devcontainer/schema';
import { docker, dockerOk } from './docker';
import type { SandboxStackFixture, SandboxStackOptions } from './sandbox-stack';

/**
 * A stand-in "outside" for the suites that go out through the egress proxy (egress, gVisor): a
 * server on the stack's outside network (`<project>_egress`, where only the egress proxy is)
 * that answers `outside <path>`, known by a name the sandbox lists and by one it does not.
 */
export const LISTED = 'allowed.devsec.test';
export const UNLISTED = 'denied.devsec.test';

/** The shared Postgres's client in the dev container: not kept across re-runs of secure-devcontainer, so given again at each. */
export const POSTGRES_CLIENT: Partial<SecureDevcontainerGeneratorSchema> = { aptPackages: ['postgresql-client'] };

/**
 * createSandboxStack's options for a sandbox that lists LISTED (--allowHosts), with the shared
 * Postgres and its client, beside `more`. The stand-in has a private address: the user lets the
 * egress proxy reach it by name (EGRESS_ALLOW_PRIVATE in the services override).
 */
export function outsideListedStack(more: Pick<SandboxStackOptions, 'generator' | 'prepare'> = {}): SandboxStackOptions {
  return {
    generator: { ...POSTGRES_CLIENT, allowHosts: [LISTED], ...more.generator },
    tree: async (tree) => void (await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true })),
    prepare: (dir, ws) => {
      more.prepare?.(dir, ws);
      writeFileSync(
        join(dir, 'apps/app/.devcontainer/docker-compose.services.yml'),
        `services:\n  egress-proxy:\n    environment:\n      EGRESS_ALLOW_PRIVATE: ${LISTED}\n`,
      );
    },
  };
}

/** Starts the stand-in on the stack's outside network (after its first `up()`), removed first when the stack stops; its container's name. */
export function startOutsideServer(stack: SandboxStackFixture): string {
  const name = stack.name('outside');
  stack.atStop(() => docker(['rm', '-f', name]));
  dockerOk([
    'run',
    '-d',
    '--name',
    name,
    '--network',
    `${stack.project}_egress`,
    '--network-alias',
    LISTED,
    '--network-alias',
    UNLISTED,
    'node:24-trixie-slim',
    'node',
    '-e',
    "require('http').createServer((q,s)=>s.end('outside '+q.url)).listen(80)",
  ]);
  return name;
}
