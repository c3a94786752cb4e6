import { parse } from 'yaml';
import { worktreeOverrideFile } from '../git/worktree';
import { UPSTREAM_PROXY_REFERENCE, UPSTREAM_PROXY_VARIABLE, upstreamProxyPlan } from './upstream-proxy';
import { checkWorkspaceEnvFiles } from './workspace-env';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('upstreamProxyPlan', () => {
  const said: string[] = [];
  const say = (line: string) => said.push(line);
  beforeEach(() => (said.length = 0));

  it('takes HTTPS_PROXY of the shell, and says where it goes without the credentials', () => {
    const plan = upstreamProxyPlan(undefined, { HTTPS_PROXY: 'http://alice:s3cret@proxy.corp.example:8080', NO_PROXY: '.corp.example,10.0.0.0/8' }, say)!;
    expect(plan).toEqual({
      url: 'http://alice:s3cret@proxy.corp.example:8080',
      shown: 'http://proxy.corp.example:8080',
      noProxy: '.corp.example,10.0.0.0/8',
      from: 'HTTPS_PROXY of your shell',
    });
    expect(said.join('\n')).toMatch(/leaves through http:\/\/proxy.corp.example:8080 \(HTTPS_PROXY of your shell\), except for .corp.example,10.0.0.0\/8/);
    expect(said.join('\n')).not.toMatch(/s3cret|alice/);
  });

  it('prefers --upstreamProxy, falls back to HTTP_PROXY, and is direct without either', () => {
    expect(upstreamProxyPlan('http://10.1.2.3:3128', { HTTPS_PROXY: 'http://other:1' }, say)?.url).toBe('http://10.1.2.3:3128');
    expect(upstreamProxyPlan(undefined, { http_proxy: 'http://proxy.corp.example:3128' }, say)?.from).toBe('http_proxy of your shell');
    expect(upstreamProxyPlan(undefined, {}, say)).toBeUndefined();
  });

  it('leaves out NO_PROXY entries the egress proxy cannot read, saying so', () => {
    expect(upstreamProxyPlan(undefined, { HTTPS_PROXY: 'http://p.example:1', no_proxy: 'localhost,::1,<local>,*.corp' }, say)?.noProxy).toBe(
      'localhost,::1,*.corp',
    );
    expect(said[0]).toMatch(/left out <local>/);
  });

  it.each([
    ['https://proxy.example:443', /is not http:\/\/host:port/],
    ['http://proxy.example:3128/pac', /is not http:\/\/host:port/],
    ['http://127.0.0.1:3128', /this machine's loopback, which the egress proxy's container cannot reach/],
    ['http://localhost:3128', /loopback/],
    ['not a url', /is not a URL/],
  ])('refuses %s', (raw, message) => {
    expect(() => upstreamProxyPlan(raw, {}, say)).toThrow(message);
  });
});

describe('the override file', () => {
  it('gives the egress proxy a reference to the compose process’s variable, never the URL', () => {
    const text = worktreeOverrideFile(
      [],
      { 'egress-proxy': { environment: { EGRESS_ALLOW: 'registry.npmjs.org' } } },
      {},
      {
        'egress-proxy': { EGRESS_UPSTREAM_PROXY: UPSTREAM_PROXY_REFERENCE, EGRESS_NO_PROXY: '.corp.example' },
      },
    );
    expect(parse(text).services['egress-proxy'].environment).toEqual({
      EGRESS_ALLOW: 'registry.npmjs.org',
      EGRESS_UPSTREAM_PROXY: `\${${UPSTREAM_PROXY_VARIABLE}:-}`,
      EGRESS_NO_PROXY: '.corp.example',
    });
    expect(parse(text).services.app.environment).toBeUndefined();
  });
});

describe('a workspace .env file', () => {
  it('may not set the way out: HTTPS_PROXY, http_proxy, NO_PROXY are refused, naming the file', () => {
    const root = mkdtempSync(join(tmpdir(), 'devsec-env-'));
    try {
      writeFileSync(join(root, '.env'), 'FOO=1\nhttps_proxy=http://attacker.example:8080\nNO_PROXY=*\n');
      expect(() => checkWorkspaceEnvFiles(root, 'apps/app', 'up-worktree')).toThrow(/\.env:2 sets https_proxy\n {2}- \.env:3 sets NO_PROXY/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
