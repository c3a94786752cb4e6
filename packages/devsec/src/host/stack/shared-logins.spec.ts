import { stubRunner } from '../../testing/stub-runner';
import { checkSharedLogins } from './shared-logins';
import type { SharedStack } from './shared-stack';

describe('checkSharedLogins', () => {
  const stack: SharedStack = { compose: { name: 'ws-shared', files: ['/w/docker-compose.shared.yml'], prefix: '[shared] ' }, network: 'dev' };
  const model = {
    services: {
      postgres: { image: 'postgres:17', volumes: [{ type: 'volume', source: 'postgres-data', target: '/var/lib/postgresql/data' }] },
      redis: { image: 'redis:7' },
    },
  };

  it('asks postgres to log in with the password its container has, from inside it', () => {
    const run = stubRunner([[/exec -T postgres/, { stdout: '1\n' }]]);
    checkSharedLogins(stack, model, '/state/ws-shared.env', run);
    expect(run.calls).toEqual([
      'docker compose -p ws-shared -f /w/docker-compose.shared.yml exec -T postgres sh -c PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1"',
    ]);
  });

  it('names the volume, the secrets file and the fix when the volume was initialised with another password', () => {
    const run = stubRunner([[/exec -T postgres/, { status: 2, stderr: 'psql: error: FATAL:  password authentication failed for user "postgres"' }]]);
    expect(() => checkSharedLogins(stack, model, '/state/ws-shared.env', run)).toThrow(
      /postgres refuses the password it was started with: its data \(ws-shared_postgres-data\) was initialised with another one than the generated password in \/state\/ws-shared\.env\..*docker volume rm ws-shared_postgres-data/,
    );
  });

  it('says nothing when the check cannot run (no client in the image)', () => {
    expect(() => checkSharedLogins(stack, model, '/s', stubRunner([[/exec/, { status: 127, stderr: 'sh: psql: not found' }]]))).not.toThrow();
  });
});
