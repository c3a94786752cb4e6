/**
 * The live probe's answer, as the host takes it: data from inside a container the agent
 * controls. The probe runs as another uid than the agent's (live-audit.ts), so its stdout is not
 * the agent's to write; still, nothing in it is trusted for its form. It must be exactly one JSON
 * document on one line, of exactly the shape host/live-probe/main.js writes: an extra line, an
 * unknown key, a wrong type or a missing field is refused, never read around. Its strings are
 * shown through `visible()` wherever the host prints them (rules/report.ts, liveSummary).
 */
import type { Observations } from '../../rules/live-findings';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/** The uid and gid the probe runs as: not the agent's (the generated image's node is 1000), and nobody's files. */
export const PROBE_UID = 65534;

/** A shape, checked as JSON.parse returns it: a key absent from `optional` must be there; no key beyond both. */
type Shape =
  'string' | 'integer' | 'boolean' | { enum: readonly string[] } | { array: Shape } | { object: Record<string, Shape>; optional?: Record<string, Shape> };

const strings: Shape = { array: 'string' };
const answer: Shape = { object: {}, optional: { status: 'integer', apiVersion: 'string', body: 'string', error: 'string' } };
const target = { host: 'string', port: 'integer', label: 'string' } as const;
const proxyAnswer: Shape = { object: { name: 'string' }, optional: { status: 'integer', error: 'string', proxyStatus: 'string' } };

/** What host/live-probe/main.js writes (the TypeScript side of it: Observations in rules/live-findings.ts). */
export const OBSERVATIONS: Shape = {
  object: {
    uid: 'integer',
    user: 'string',
    probeUid: 'integer',
    status: { object: {}, optional: { capEff: 'string', noNewPrivs: 'string' } },
    privilegeTools: { array: { object: { name: 'string', path: 'string', setuidRoot: 'boolean' } } },
    credentials: {
      object: { files: strings, helpers: strings, env: strings },
      optional: { sshAgent: { object: { path: 'string', exists: 'boolean' } } },
    },
    writable: { array: { object: { path: 'string', writable: 'boolean' }, optional: { missing: 'boolean', error: 'string' } } },
    hostMarkersSeen: strings,
    vscode: {
      object: { processes: { array: { object: { pid: 'integer', command: 'string' } } }, gitconfigHelpers: strings },
    },
    endpoints: {
      array: {
        object: { name: 'string', docker: 'boolean', ping: answer },
        optional: {
          calls: { array: { object: { method: 'string', path: 'string', answer } } },
          env: { array: { object: { container: 'string', names: strings } } },
        },
      },
    },
    sockets: { array: { object: { path: 'string', docker: 'boolean', agentCanOpen: 'boolean' }, optional: { error: 'string' } } },
    network: { array: { object: { ...target, answer } } },
    unsearched: strings,
  },
  optional: {
    gid: 'integer',
    egress: {
      object: {
        direct: { array: { object: { ...target, outcome: { enum: ['connected', 'refused', 'unreachable', 'silent'] } }, optional: { error: 'string' } } },
        lookup: { object: { name: 'string' }, optional: { addresses: strings, error: 'string' } },
      },
      optional: { proxy: 'string', refused: proxyAnswer, allowed: proxyAnswer, privateHosts: { array: proxyAnswer } },
    },
  },
};

/** What the probe writes from the agent's own session (`only: 'home'`): the agent's home, which only the agent's uid may read. */
export const HOME_ANSWER: Shape = { object: { files: strings, helpers: strings, gitconfigHelpers: strings } };

/** Where `value` is not of `shape`, as a path and a reason; undefined when it is. */
export function mismatch(value: unknown, shape: Shape, at = 'the answer'): string | undefined {
  if (shape === 'string') return typeof value === 'string' ? undefined : `${at} is not a string`;
  if (shape === 'boolean') return typeof value === 'boolean' ? undefined : `${at} is not true or false`;
  if (shape === 'integer') return Number.isSafeInteger(value) ? undefined : `${at} is not an integer`;
  if ('enum' in shape) return typeof value === 'string' && shape.enum.includes(value) ? undefined : `${at} is not one of ${shape.enum.join(', ')}`;
  if ('array' in shape) {
    if (!Array.isArray(value)) return `${at} is not a list`;
    for (const [index, item] of value.entries()) {
      const wrong = mismatch(item, shape.array, `${at}[${index}]`);
      if (wrong) return wrong;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${at} is not an object`;
  const record = value as Record<string, unknown>;
  const optional = shape.optional ?? {};
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(shape.object, key) && !Object.hasOwn(optional, key)) return `${at} has a key the probe never writes (${JSON.stringify(key)})`;
  }
  for (const [key, inner] of Object.entries(shape.object)) {
    if (!Object.hasOwn(record, key)) return `${at}.${key} is missing`;
    const wrong = mismatch(record[key], inner, `${at}.${key}`);
    if (wrong) return wrong;
  }
  for (const [key, inner] of Object.entries(optional)) {
    if (!Object.hasOwn(record, key)) continue;
    const wrong = mismatch(record[key], inner, `${at}.${key}`);
    if (wrong) return wrong;
  }
  return undefined;
}

const refuse = (reason: string) => new SandboxError(`The live probe's answer was not what the probe writes: ${visible(reason)}. No verdict is drawn from it.`);

/** One JSON document on one line, of `shape`, or refused. */
function parseOne(stdout: string, shape: Shape): unknown {
  const lines = stdout.split('\n');
  if (lines.length !== 2 || lines[1] !== '') {
    const count = lines.filter((line) => line !== '').length;
    throw refuse(`it is ${count} line${count === 1 ? '' : 's'}${lines[lines.length - 1] !== '' ? ' without an end of line' : ''}, where the probe writes one`);
  }
  let value: unknown;
  try {
    value = JSON.parse(lines[0]);
  } catch (error) {
    throw refuse(`it is not JSON (${(error as Error).message})`);
  }
  const wrong = mismatch(value, shape);
  if (wrong) throw refuse(wrong);
  return value;
}

/**
 * The probe's stdout, as Observations: one JSON document on one line, of the probe's shape, from
 * a probe that ran as PROBE_UID while the agent is another uid. Anything else is refused.
 */
export function parseProbeAnswer(stdout: string): Observations {
  const observations = parseOne(stdout, OBSERVATIONS) as Observations;
  if (observations.probeUid !== PROBE_UID) throw refuse(`it says the probe ran as uid ${observations.probeUid}, where it runs as ${PROBE_UID}`);
  if (observations.uid === PROBE_UID) {
    throw new SandboxError(
      `The dev container runs as uid ${PROBE_UID}, the live probe's own: its answer would be the agent's to write. Run the dev container as another user (user: node).`,
    );
  }
  return observations;
}

/** The home part's stdout (written from the agent's own session: the agent could have written it). */
export function parseHomeAnswer(stdout: string): { files: string[]; helpers: string[]; gitconfigHelpers: string[] } {
  return parseOne(stdout, HOME_ANSWER) as { files: string[]; helpers: string[]; gitconfigHelpers: string[] };
}
