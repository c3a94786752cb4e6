import { Tree } from '@nx/devkit';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { execFileSync } from 'node:child_process';
import { runAudit } from '../../host/audit/audit';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditSandbox } from '../../rules/static-audit';
import { readSpec } from '../../sandbox/spec';
import { expectValid, generated, run } from '../../testing/generated-sandbox';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { localhostProxyGenerator } from '../localhost-proxy/generator';
import { syncGenerator } from '../sync/sync';
import { secureDevcontainerGenerator } from './generator';

const DIR = 'apps/app/.devcontainer';
const COMPOSE = `${DIR}/docker-compose.yml`;
const appVolumes = (tree: Tree): string[] => generated(tree).compose.services.app.volumes as string[];
const storedOptions = (tree: Tree) => (generated(tree).compose as any)['x-devsec'].options;

describe('secure-devcontainer --workspace', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  it('mount is the default: the spec stores nothing new, and the checkout is mounted as before', async () => {
    await run(tree);
    expect(readSpec(tree, 'apps/app')?.workspace).toBeUndefined();
    expect(storedOptions(tree)).not.toHaveProperty('workspace');
    expect(appVolumes(tree)).toContain('${DEVSEC_WORKSPACE:-../../..}:${DEVSEC_WORKSPACE:-/workspace}');
    expect(generated(tree).compose.volumes).not.toHaveProperty('workspace');
  });

  describe('clone', () => {
    beforeEach(() => run(tree, { workspace: 'clone' }));

    it('is stored in the spec and on the dev container', () => {
      expect(readSpec(tree, 'apps/app')?.workspace).toBe('clone');
      const { compose } = generated(tree);
      expect(storedOptions(tree).workspace).toBe('clone');
      expect(compose.services.app.labels['org.devsec.workspace']).toBe('clone');
    });

    it('mounts nothing of the host: the workspace is a volume of the stack, beside node_modules and .nx', () => {
      expect(appVolumes(tree)).toEqual([
        'workspace:${DEVSEC_WORKSPACE:-/workspace}',
        'node_modules:${DEVSEC_WORKSPACE:-/workspace}/node_modules',
        'nx-state:${DEVSEC_WORKSPACE:-/workspace}/.nx',
      ]);
      const { compose } = generated(tree);
      expect(Object.keys(compose.volumes)).toEqual(['workspace', 'node_modules', 'nx-state']);
      // No bind of any kind in the dev container: not the checkout, its .git, the definition, nor the host's node_modules.
      expect(JSON.stringify(compose.services.app.volumes)).not.toMatch(/DEVSEC_GIT_COMMON_DIR|\.\/:|:ro|host-node_modules|\.\.\//);
      expectValid(tree);
    });

    it('passes the static audit: no definition to protect, since nothing of the checkout is mounted', () => {
      const findings = auditSandbox('apps/app', (path) => tree.read(path, 'utf-8'));
      expect(findings.filter((finding) => finding.severity === 'high')).toEqual([]);
      expect(findings.map((finding) => finding.rule)).not.toContain('sandbox-writable');
    });

    it('is idempotent, and kept by a re-run without the option, by another generator and by nx sync', async () => {
      const before = snapshot(tree);
      await run(tree, { workspace: 'clone' });
      expect(snapshot(tree)).toEqual(before);
      await run(tree);
      expect(snapshot(tree)).toEqual(before);
      tree.write(`${DIR}/docker-compose.services.yml`, 'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n');
      await localhostProxyGenerator(tree, { project: 'app', target: 'web:3000', skipFormat: true });
      expect(readSpec(tree, 'apps/app')?.workspace).toBe('clone');
      expect(appVolumes(tree)[0]).toBe('workspace:${DEVSEC_WORKSPACE:-/workspace}');
      const after = snapshot(tree);
      await expect(syncGenerator(tree)).resolves.toBeUndefined();
      expect(snapshot(tree)).toEqual(after);
    });

    it('goes back to mount only when asked by name', async () => {
      await run(tree, { workspace: 'mount' });
      expect(readSpec(tree, 'apps/app')?.workspace).toBeUndefined();
      expect(appVolumes(tree)[0]).toBe('${DEVSEC_WORKSPACE:-../../..}:${DEVSEC_WORKSPACE:-/workspace}');
      expect(generated(tree).compose.services.app.labels).not.toHaveProperty('org.devsec.workspace');
    });
  });

  it('refuses a mode it does not know, naming both, with the tree unchanged', async () => {
    const before = snapshot(tree);
    await expect(run(tree, { workspace: 'copy' as never })).rejects.toThrow(/--workspace: "copy" is not a mode. Use mount .* or clone/);
    expect(snapshot(tree)).toEqual(before);
  });

  it('refuses a stored mode it does not know, naming the file', async () => {
    await run(tree, { workspace: 'clone' });
    tree.write(COMPOSE, (tree.read(COMPOSE, 'utf-8') as string).replace('"workspace":"clone"', '"workspace":"copy"'));
    expect(() => readSpec(tree, 'apps/app')).toThrow(/docker-compose.yml: x-devsec.options --workspace: "copy"/);
  });

  it('is said by the audit report, where the sandbox is reviewed (mount says nothing new)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-clone-audit-'));
    try {
      execFileSync('git', ['init', '-q', dir]);
      writeFileSync(join(dir, 'nx.json'), '{}');
      mkdirSync(join(dir, 'apps/app'), { recursive: true });
      writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
      const report = async (workspace: 'mount' | 'clone') => {
        const disk = new FsTree(dir, false);
        await secureDevcontainerGenerator(disk, { project: 'app', workspace, skipFormat: true });
        flushChanges(dir, disk.listChanges());
        let text = '';
        runAudit(dir, COMPOSE, {}, (chunk) => (text += chunk));
        return text;
      };
      expect(await report('clone')).toMatch(/^Workspace: clone \(--workspace=clone\): .*nothing of your checkout or its \.git is mounted\.\n\nNo findings/);
      // Notes may follow (shared-kernel, on an engine without gVisor): never a finding.
      expect(await report('mount')).toMatch(/^No findings: the sandbox holds on every rule checked[. ]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with --dry-run (a tree never flushed), writes nothing to disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-clone-dry-'));
    try {
      writeFileSync(join(dir, 'nx.json'), '{}');
      mkdirSync(join(dir, 'apps/app'), { recursive: true });
      writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
      const list = () => readdirSync(dir, { recursive: true }).map(String).sort();
      const before = list();
      const dryTree = new FsTree(dir, false);
      await secureDevcontainerGenerator(dryTree, { project: 'app', workspace: 'clone' });
      const compose = dryTree.listChanges().find((change) => change.path === COMPOSE);
      expect(compose?.content?.toString()).toContain('"workspace":"clone"');
      expect(list()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
