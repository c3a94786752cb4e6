import type { CommandResult } from './run';
import { preflight } from './engine';
import { stubRunner } from '../../testing/stub-runner';

const enoent = Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' });

describe('preflight', () => {
  it.each<[string, Array<[RegExp, Partial<CommandResult>]>, RegExp]>([
    ['docker CLI missing', [[/^docker version/, { status: null, error: enoent }]], /docker CLI is not installed/],
    [
      'daemon down',
      [[/^docker version/, { status: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' }]],
      /daemon does not answer: Cannot connect.*Start it/,
    ],
    [
      'Compose v1 only',
      [[/^docker compose version/, { status: 0, stdout: '1.29.2\n' }]],
      /Compose v2 .* is needed.*Found Compose 1\.29\.2.*Debian 12's docker-compose is v1/,
    ],
    ['no compose at all', [[/^docker compose version/, { status: 1, stderr: "docker: 'compose' is not a docker command." }]], /Compose v2 .* is needed/],
  ])('%s: a clear error with the fix', (_name, answers, message) => {
    expect(() => preflight(stubRunner(answers))).toThrow(message);
  });

  it('passes with an engine and Compose v2', () => {
    expect(() => preflight(stubRunner([[/^docker compose version/, { stdout: 'v2.26.1\n' }]]))).not.toThrow();
  });
});
