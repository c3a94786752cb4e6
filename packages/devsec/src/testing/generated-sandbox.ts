/** The secure-devcontainer generator's output, read back for tests: run it, parse its files, check them. */
import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { checkSandbox, ComposeModel } from '../rules/compose-rules';
import { parseJsonc } from '../sandbox/jsonc';
import { DOCKERFILE } from '../sandbox/vocabulary';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import type { SecureDevcontainerGeneratorSchema } from '../generators/secure-devcontainer/schema';
import { validateCompose, validateDevcontainer } from './schemas';

export const run = (tree: Tree, options: Partial<SecureDevcontainerGeneratorSchema> = {}) =>
  secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true, ...options } as SecureDevcontainerGeneratorSchema);

/* eslint-disable @typescript-eslint/no-explicit-any */
export function generated(tree: Tree, root = 'apps/app') {
  const dir = `${root}/.devcontainer`;
  const composeText = tree.read(`${dir}/docker-compose.yml`, 'utf-8') as string;
  const devcontainerText = tree.read(`${dir}/devcontainer.json`, 'utf-8') as string;
  return {
    composeText,
    compose: parse(composeText) as ComposeModel & { services: Record<string, any>; networks: Record<string, any>; volumes: Record<string, any> },
    devcontainer: parseJsonc<Record<string, any>>(devcontainerText),
    dockerfile: tree.read(`${dir}/${DOCKERFILE}`, 'utf-8') as string,
  };
}

/** Both schemas and our own rules. */
export function expectValid(tree: Tree, root = 'apps/app') {
  const { compose, devcontainer } = generated(tree, root);
  expect(validateCompose(compose)).toEqual([]);
  expect(validateDevcontainer(devcontainer)).toEqual([]);
  expect(
    checkSandbox({
      composeFile: `${root}/.devcontainer/docker-compose.yml`,
      compose,
      devcontainerFile: `${root}/.devcontainer/devcontainer.json`,
      devcontainer,
    }),
  ).toEqual([]);
}
