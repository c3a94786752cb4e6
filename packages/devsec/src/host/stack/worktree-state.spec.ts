import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInputsHash, buildSpecs, gateInputsHash, readState, withState, withoutState } from './worktree-state';

describe('worktree state', () => {
  let dir: string;
  let files: string[];
  const env = join(tmpdir(), 'devsec-no-such.env');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-state-'));
    files = [join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.worktree.yml')];
    writeFileSync(files[0], 'services:\n  app:\n    image: node:24-trixie-slim\n    working_dir: ${DEVSEC_WORKSPACE:-/workspace}\n');
    writeFileSync(files[1], 'services:\n  app:\n    volumes: []\n');
  });

  it('round-trips on the last line of the override file, and leaves the file as it was without state', () => {
    const text = 'services:\n  app:\n    volumes: []\n';
    const state = { gateInputs: 'a', network: 'dev', builds: [], buildInputs: 'b' };
    expect(readState(withState(text, state))).toEqual(state);
    expect(withoutState(withState(text, state))).toBe(text);
    expect(withState(text, {})).toBe(text);
    expect(readState(text)).toEqual({});
    expect(readState('x-devsec-state: {not json\n')).toEqual({});
  });

  it('keeps the verified start and the fill of the dev container with the rest', () => {
    const text = 'services:\n  app:\n    volumes: []\n';
    const state = {
      gateInputs: 'a',
      verified: { container: 'c1', startedAt: '2026-12-07T02:00:00.123456789Z', mounts: 'm' },
      fill: { container: 'c1', ok: false },
    };
    const written = withState(text, state);
    expect(readState(written)).toEqual(state);
    // One line, rewritten in place: a second start's state replaces the first's.
    expect(withState(written, { ...state, fill: { container: 'c1', ok: true } }).match(/x-devsec-state/g)).toHaveLength(1);
    expect(readState(withState(written, { ...state, fill: { container: 'c1', ok: true } })).fill).toEqual({ container: 'c1', ok: true });
  });

  describe('gateInputsHash', () => {
    const hash = (environment: NodeJS.ProcessEnv = {}) => gateInputsHash(files, env, environment, '0.1.0');
    it('is stable, and ignores the state line', () => {
      const before = hash();
      writeFileSync(files[1], withState('services:\n  app:\n    volumes: []\n', { gateInputs: 'x' }));
      expect(hash()).toBe(before);
    });
    it('changes with any compose file, a variable the files use, Compose settings, or the gate version', () => {
      const before = hash();
      expect(hash({ DEVSEC_WORKSPACE: '/elsewhere' })).not.toBe(before);
      expect(hash({ COMPOSE_PROFILES: 'x' })).not.toBe(before);
      expect(hash({ UNRELATED: '1' })).toBe(before);
      expect(gateInputsHash(files, env, {}, '0.2.0')).not.toBe(before);
      writeFileSync(files[1], 'services:\n  app:\n    privileged: true\n');
      expect(hash()).not.toBe(before);
    });
    it('is undefined (the gate always runs) when a file pulls in others', () => {
      for (const pull of ['extends:\n      file: other.yml', 'env_file: other.env']) {
        writeFileSync(files[1], `services:\n  app:\n    ${pull}\n`);
        expect(hash()).toBeUndefined();
      }
    });
  });

  describe('buildInputsHash', () => {
    it('follows the contexts files and build settings, not the per-machine files', () => {
      const context = join(dir, 'ctx');
      mkdirSync(context);
      writeFileSync(join(context, 'Dockerfile'), 'FROM node:24-trixie-slim\n');
      const specs = buildSpecs({ services: { app: { build: { context, dockerfile: 'Dockerfile' } }, db: { image: 'postgres:17' } } });
      expect(specs).toEqual([{ service: 'app', context, dockerfile: 'Dockerfile', args: undefined }]);
      const before = buildInputsHash(specs);
      writeFileSync(join(context, '.env'), 'A=1\n');
      writeFileSync(join(context, 'docker-compose.worktree.yml'), 'x-devsec-state: {}\n');
      expect(buildInputsHash(specs)).toBe(before);
      writeFileSync(join(context, 'Dockerfile'), 'FROM node:24-trixie-slim\nRUN true\n');
      expect(buildInputsHash(specs)).not.toBe(before);
      expect(buildInputsHash([{ ...specs[0], args: { A: '1' } }])).not.toBe(buildInputsHash(specs));
    });
  });
});
