import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { EXIT, main, USAGE } from './main';

async function run(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (chunk) => (chunks.out += chunk));
  stderr.on('data', (chunk) => (chunks.err += chunk));
  // A folder with no workspace: nothing here may reach one.
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), isTTY: false, env: {}, cwd: tmpdir() });
  return { code, ...chunks };
}

describe('devsec (the command line)', () => {
  it('prints its usage: asked for, 0; with no command, 2', async () => {
    expect(await run(['--help'])).toEqual({ code: EXIT.ok, out: USAGE, err: '' });
    expect(await run([])).toEqual({ code: EXIT.usage, out: USAGE, err: '' });
  });

  it('refuses an unknown command by name, also a name every object has (constructor, toString)', async () => {
    for (const command of ['stop', 'constructor', 'toString', '__proto__']) {
      const result = await run([command]);
      expect([command, result.code, result.err]).toEqual([command, EXIT.usage, expect.stringContaining(`unknown command "${command}"`)]);
    }
  });

  it("shows an unknown command's control characters as escapes", async () => {
    expect((await run(['\u001b[2Jx'])).err).toContain('unknown command "\\x1b[2Jx"');
  });

  it("answers each stack command's --help with its usage, and a bad flag with a usage error naming it", async () => {
    for (const command of ['up', 'down', 'up-shared', 'down-shared', 'audit', 'agent', 'prepare']) {
      const result = await run([command, '--help']);
      expect([command, result.code, result.out]).toEqual([command, EXIT.ok, expect.stringMatching(new RegExp(`^Usage: devsec ${command}`))]);
    }
    for (const flag of ['--no-such-flag', '--constructor=1', '--toString']) {
      const bad = await run(['up', 'app', flag]);
      expect([flag, bad.code, bad.err]).toEqual([flag, EXIT.usage, expect.stringContaining(`unknown option ${flag.split('=')[0]}.`)]);
    }
  });

  it('says there is no workspace, rather than acting on a folder without one', async () => {
    const result = await run(['down', 'app']);
    expect([result.code, result.err]).toEqual([EXIT.refused, expect.stringMatching(/no Nx workspace here/)]);
  });
});
