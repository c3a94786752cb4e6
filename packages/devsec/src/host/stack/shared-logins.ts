/**
 * A database keeps the password it was initialised with in its volume; the environment only
 * matters on the first start. When the generated password changed since (the state file was
 * removed, a volume came from another checkout), every client fails with a bare authentication
 * error. After the shared services are up, each database we know is asked to log in with the
 * password its container has now, from inside that container, and a refusal is named with the fix.
 */
import type { ComposeModel } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import { runCompose } from '../engine/compose-project';
import { runCommand, Runner } from '../engine/run';
import type { SharedStack } from './shared-stack';

interface LoginCheck {
  image: RegExp;
  /** Run inside the service's container, with its own environment (the password never crosses a command line of ours). */
  command: string[];
  refused: RegExp;
}

const LOGIN_CHECKS: LoginCheck[] = [
  {
    image: /(^|\/)postgres([:@]|$)/,
    command: ['sh', '-c', 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1"'],
    refused: /password authentication failed/i,
  },
  {
    image: /(^|\/)mysql([:@]|$)/,
    command: ['sh', '-c', 'mysql -h 127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" -e "select 1"'],
    refused: /Access denied/i,
  },
  {
    image: /(^|\/)mongo([:@]|$)/,
    command: [
      'sh',
      '-c',
      'mongosh --quiet --host 127.0.0.1 -u root -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin --eval "db.adminCommand({ping: 1}).ok"',
    ],
    refused: /Authentication failed/i,
  },
];

/** The named volumes a service keeps its data in, as Docker names them. */
function dataVolumes(stack: SharedStack, service: { volumes?: Array<string | { type?: string; source?: string }> }): string[] {
  return (service.volumes ?? [])
    .filter((volume): volume is { type?: string; source?: string } => typeof volume === 'object' && volume.type === 'volume' && !!volume.source)
    .map((volume) => `${stack.compose.name}_${volume.source}`);
}

export function checkSharedLogins(stack: SharedStack, model: ComposeModel, secretsFile: string, run: Runner = runCommand): void {
  for (const [name, service] of Object.entries(model.services ?? {})) {
    const check = LOGIN_CHECKS.find((candidate) => typeof service?.image === 'string' && candidate.image.test(service.image));
    if (!service || !check) continue;
    const login = runCompose(stack.compose, ['exec', '-T', name, ...check.command], run);
    if (login.status === 0 || !check.refused.test(`${login.stdout}\n${login.stderr}`)) continue;
    const volumes = dataVolumes(stack, service);
    throw new SandboxError(
      `${name} refuses the password it was started with: its data (${volumes.join(', ') || 'its volume'}) was initialised with another one ` +
        `than the generated password in ${secretsFile}. Either put the old password back in that file, ` +
        `or start its data afresh — this deletes it: stop the shared services, then \`docker volume rm ${volumes.join(' ') || '<volume>'}\`, then start again.`,
    );
  }
}
