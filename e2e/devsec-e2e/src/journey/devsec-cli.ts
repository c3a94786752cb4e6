/**
 * The same journey through `devsec`, the host entry that runs nothing of the workspace: the agent
 * plants a NODE_OPTIONS line in the root .env, a local plugin in nx.json and an up-worktree
 * script in package.json — each would run in the host's Nx — then the user starts the sandbox
 * with devsec. Nothing planted runs, and devsec check lists all three.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerOk } from '../../../../tools/testing/docker';
import { CHECKOUT_UID } from '../workspace';
import { inside, journey } from './context';

export function describeDevsecCli(): void {
  let markers: string;
  const devsec = (...args: string[]) => journey.ws.run(join(journey.ws.dir, 'node_modules/.bin/devsec'), args, { allowFailure: true });
  const restore = ['.env', 'nx.json', 'package.json', 'tools'];

  beforeAll(() => {
    markers = mkdtempSync(join(tmpdir(), 'devsec-e2e-ran-'));
    journey.ws.run('chown', [`${CHECKOUT_UID}`, markers]);
    // The approved baseline, before the agent touches anything.
    expect(devsec('check').status).toBe(0);
    const touch = (name: string) => `require('fs').writeFileSync('${join(markers, name)}', '')`;
    const plant = [
      `cd ${journey.ws.dir}`,
      `mkdir -p tools/evil-plugin && echo "${touch('plugin')}; module.exports = { createNodesV2: ['**/nothing', () => []] };" > tools/evil-plugin/index.js`,
      `echo "${touch('node-options')}" > tools/evil.js && echo "NODE_OPTIONS=--require=${journey.ws.dir}/tools/evil.js" >> .env`,
      `node -e "const f='nx.json',j=JSON.parse(require('fs').readFileSync(f));j.plugins.push('./tools/evil-plugin');require('fs').writeFileSync(f,JSON.stringify(j,null,2))"`,
      `node -e "const f='package.json',j=JSON.parse(require('fs').readFileSync(f));(j.scripts??={})['up-worktree']=\\"node -e \\\\\\"${touch('script')}\\\\\\"\\";require('fs').writeFileSync(f,JSON.stringify(j,null,2))"`,
    ].join(' && ');
    expect(inside(plant).stderr).toBe('');
  });

  afterAll(() => {
    journey.ws.run('git', ['checkout', '--', ...restore.filter((path) => path !== 'tools' && path !== '.env')], { allowFailure: true });
    journey.ws.run('rm', ['-rf', join(journey.ws.dir, 'tools'), join(journey.ws.dir, '.env')]);
    rmSync(markers, { recursive: true, force: true });
  });

  it('devsec check lists the three planted changes and exits 1', () => {
    const check = devsec('check');
    expect(check.status).toBe(1);
    for (const path of ['.env', 'nx.json', 'package.json']) expect(check.stdout).toMatch(new RegExp(`^.*${path.replace('.', '\\.')}`, 'm'));
  });

  it('devsec up refuses a remote engine, naming what chose it, and writes nothing', () => {
    const envFile = join(journey.ws.dir, 'apps/app/.devcontainer/.env');
    const before = readFileSync(envFile, 'utf-8');
    const up = journey.ws.run('env', ['DOCKER_HOST=tcp://203.0.113.7:2376', join(journey.ws.dir, 'node_modules/.bin/devsec'), 'up', 'app'], {
      allowFailure: true,
    });
    expect(up.status).not.toBe(0);
    expect(up.stderr).toMatch(/The Docker engine is not on this machine \(DOCKER_HOST=tcp:\/\/203\.0\.113\.7:2376\): a remote engine cannot bind/);
    expect(readFileSync(envFile, 'utf-8')).toBe(before);
  });

  it('devsec down and up run the sandbox again, and nothing planted ran', () => {
    expect(devsec('down', 'app').status).toBe(0);
    const up = devsec('up', 'app');
    expect(`${up.stdout}${up.stderr}`).toMatch(/docker exec -it \S+-app-1 bash/);
    expect(up.status).toBe(0);
    expect(dockerOk(['ps', '--filter', `name=${journey.app}`, '--format', '{{.Names}}']).trim()).toBe(journey.app);
    expect(readdirSync(markers)).toEqual([]);
  });

  it('devsec audit --live holds, and devsec agent runs a command inside with no forwarded channel', () => {
    const audit = devsec('audit', 'app', '--live');
    expect(audit.stdout).toContain('No findings');
    const agent = devsec('agent', 'app', '--', 'sh', '-c', 'id -u; env | grep -cE "^(SSH_AUTH_SOCK|VSCODE_|GIT_ASKPASS)" || true');
    expect(agent.stdout.trim().split('\n')).toEqual(['1000', '0']);
    expect(readdirSync(markers)).toEqual([]);
  });

  it('devsec trust --yes approves what check showed; check is quiet again', () => {
    expect(devsec('trust', '--yes').status).toBe(0);
    expect(devsec('check').status).toBe(0);
  });
}
