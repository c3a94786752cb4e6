import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';

/** ../shared/schemas beside the checkout (CI lays shared/ there); never copied into the repo. */
export const SCHEMA_DIR = resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'schemas');

function load(file: string): object {
  const path = join(SCHEMA_DIR, file);
  if (!existsSync(path)) throw new Error(`schema ${path} is missing: the tests read ../shared/schemas beside the checkout.`);
  return JSON.parse(readFileSync(path, 'utf-8'));
}

let compose: ValidateFunction | undefined;
let devcontainer: ValidateFunction | undefined;

/** compose-go's schema (draft 2020-12), the one Compose v2 validates with. */
export function validateCompose(model: unknown): string[] {
  if (!compose) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    compose = ajv.compile(load('compose-spec.json'));
  }
  return compose(model) ? [] : (compose.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** The Dev Container base schema (draft 2019-09, with a non-standard allowComments keyword). */
export function validateDevcontainer(config: unknown): string[] {
  if (!devcontainer) {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addKeyword('allowComments');
    devcontainer = ajv.compile(load('devContainer.base.schema.json'));
  }
  return devcontainer(config) ? [] : (devcontainer.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
