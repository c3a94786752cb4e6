import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';

/**
 * The Compose and Dev Container schemas live in ../shared/schemas beside this repository's CI
 * checkout and are never copied into it. On a plain clone they are missing: the schema checks
 * are then skipped, saying so once; under DEVSEC_REQUIRE_SCHEMAS=1 (set by .ci/run) a missing
 * schema fails. `docker compose config` and the devcontainer CLI stay the real validators in the
 * real-engine suites either way.
 */
export const SCHEMA_DIR = resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'schemas');
const FILES = { compose: 'compose-spec.json', devcontainer: 'devContainer.base.schema.json' };
const required = process.env.DEVSEC_REQUIRE_SCHEMAS === '1';

export const schemaProblem = Object.values(FILES).some((file) => !existsSync(join(SCHEMA_DIR, file)))
  ? `the schemas are not in ${SCHEMA_DIR} (they sit beside this repository's CI checkout, in ../shared/schemas)`
  : undefined;
export const schemasAvailable = schemaProblem === undefined;

let warned = false;
function unavailable(): string[] {
  if (required) throw new Error(`${schemaProblem}. DEVSEC_REQUIRE_SCHEMAS=1 makes this a failure: lay ../shared/schemas beside the checkout, or unset it.`);
  if (!warned) {
    warned = true;
    console.warn(`skipping schema checks: ${schemaProblem}. Put compose-spec.json and devContainer.base.schema.json there to run them.`);
  }
  return [];
}

/** Schema tests of their own: skipped, with the reason, where the schemas are missing (a failure under DEVSEC_REQUIRE_SCHEMAS=1). */
export const describeWithSchemas: jest.Describe = ((name: string, body: () => void) => {
  if (schemasAvailable) return describe(name, body);
  if (required) return describe(name, () => it('needs ../shared/schemas (DEVSEC_REQUIRE_SCHEMAS=1)', () => void unavailable()));
  console.warn(`skipping "${name}": ${schemaProblem}.`);
  return describe.skip(name, body);
}) as jest.Describe;

const load = (file: string): object => JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf-8'));

let compose: ValidateFunction | undefined;
let devcontainer: ValidateFunction | undefined;

/** compose-go's schema (draft 2020-12), the one Compose v2 validates with; no errors where the schema is missing. */
export function validateCompose(model: unknown): string[] {
  if (!schemasAvailable) return unavailable();
  if (!compose) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    compose = ajv.compile(load(FILES.compose));
  }
  return compose(model) ? [] : (compose.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** The Dev Container base schema (draft 2019-09, with a non-standard allowComments keyword); no errors where the schema is missing. */
export function validateDevcontainer(config: unknown): string[] {
  if (!schemasAvailable) return unavailable();
  if (!devcontainer) {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addKeyword('allowComments');
    devcontainer = ajv.compile(load(FILES.devcontainer));
  }
  return devcontainer(config) ? [] : (devcontainer.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
