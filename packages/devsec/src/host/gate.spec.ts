import { SandboxError } from '../sandbox/errors';
import { GATE_RULES, policyGate } from './gate';
import type { SandboxStack } from './sandbox-stack';
import { stubRunner } from '../testing/stub-runner';

describe('policyGate', () => {
  const stack: SandboxStack = {
    identity: { workspaceRoot: '/w', gitCommonDir: '/w/.git', branch: 'main', gitName: undefined, gitEmail: undefined, composeProjectName: 'app-w-12345678' },
    devcontainerDir: '/w/apps/app/.devcontainer',
    project: 'app',
    compose: {
      name: 'app-w-12345678',
      files: ['/w/apps/app/.devcontainer/docker-compose.yml', '/w/apps/app/.devcontainer/docker-compose.worktree.yml'],
      cwd: '/w/apps/app/.devcontainer',
      prefix: '[app] ',
    },
  };
  const model = (app: object) =>
    JSON.stringify({
      services: {
        'docker-proxy': { networks: { sandbox: {} }, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] },
        app: { user: 'node', ...app },
      },
      networks: { sandbox: { name: 'x_sandbox' }, shared: { name: 'dev', external: true } },
    });

  it('reads the effective model and lets a clean stack through', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ networks: { sandbox: {}, shared: {} } }) }]]);
    expect(policyGate(stack, [], run).allowed).toEqual([]);
    expect(run.calls[0]).toBe(
      'docker compose -p app-w-12345678 -f /w/apps/app/.devcontainer/docker-compose.yml -f /w/apps/app/.devcontainer/docker-compose.worktree.yml config --format json',
    );
  });

  it('refuses a weakened stack, naming the file, the service and the key', () => {
    const run = stubRunner([
      [
        /config --format json/,
        { stdout: model({ privileged: true, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }) },
      ],
    ]);
    expect(() => policyGate(stack, [], run)).toThrow(SandboxError);
    expect(() => policyGate(stack, [], run)).toThrow(
      /docker-compose\.yml: services\.app\.volumes \(socket-mount\)[\s\S]*services\.app\.privileged \(privileged\)[\s\S]*--unsafe-allow=<rule>/,
    );
  });

  it('lets one rule through when allowed explicitly, and only that one', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ privileged: true }) }]]);
    expect(policyGate(stack, ['privileged'], run).allowed.map((f) => f.rule)).toEqual(['privileged']);
    expect(() => policyGate(stack, ['socket-mount'], run)).toThrow(/privileged/);
    expect(() => policyGate(stack, ['everything'], run)).toThrow(/--unsafe-allow=everything: unknown rule/);
  });
});

describe('--unsafe-allow', () => {
  it("offers exactly the gate's rules in the executor schema", () => {
    const schema = require('../executors/up-worktree/schema.json');
    expect(schema.properties.unsafeAllow.items.enum).toEqual([...GATE_RULES]);
  });
});
