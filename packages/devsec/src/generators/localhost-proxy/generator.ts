import { formatFiles, joinPathFragments, logger, Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { DEVCONTAINER_DIR, RESERVED_NAMES, SERVICES_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { GeneratorError } from '../../sandbox/errors';
import { listOption } from '../../sandbox/list';
import { readSpec } from '../../sandbox/spec';
import { sandboxTarget } from '../common/target';
import { checkSandboxFiles, renderSandbox } from '../common/render';
import type { LocalhostProxyGeneratorSchema } from './schema';

function parsePort(value: unknown, option: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new GeneratorError(`${option}: "${value}" is not a port. Use whole numbers from 1 to 65535 (e.g. ${option}=3000).`);
  }
  return port;
}

export async function localhostProxyGenerator(tree: Tree, options: LocalhostProxyGeneratorSchema) {
  const target = sandboxTarget(tree, options.project);
  const stored = readSpec(tree, target.projectRoot);
  if (!stored) {
    throw new GeneratorError(
      `--project: ${options.project} has no secure dev container. Run nx g @org/devsec:secure-devcontainer --project=${options.project} first.`,
    );
  }
  const ports = listOption(options.ports ?? [3000]).map((value) => parsePort(value, '--ports'));
  if (ports.length === 0) throw new GeneratorError('--ports: give at least one port (e.g. --ports=3000).');

  // The target is a service of this stack, from the user's services file.
  const servicesPath = joinPathFragments(target.projectRoot, DEVCONTAINER_DIR, SERVICES_COMPOSE_FILE);
  const services = Object.keys((parse(tree.read(servicesPath, 'utf-8') ?? '') as { services?: Record<string, unknown> })?.services ?? {});
  const [targetService, targetPortText] = (options.target ?? services[0] ?? '').split(':');
  if (!targetService) {
    throw new GeneratorError(
      `--target: ${servicesPath} defines no service to forward to. Add your app's service there (on the sandbox network), or pass --target=SERVICE:PORT.`,
    );
  }
  if (RESERVED_NAMES.includes(targetService)) {
    throw new GeneratorError(`--target: "${targetService}" is part of the sandbox itself; forward to your app's own service (defined in ${servicesPath}).`);
  }
  if (!services.includes(targetService)) {
    throw new GeneratorError(
      `--target: no service "${targetService}" in ${servicesPath}${services.length ? ` (it has: ${services.join(', ')})` : ''}. Add it there first.`,
    );
  }
  const targetPort = targetPortText === undefined ? undefined : parsePort(targetPortText, '--target');
  const localhostProxy = {
    forwards: ports.map((port) => [port, targetService, targetPort ?? port] as [number, string, number]),
    ipv6: options.ipv6 ?? true,
  };
  checkSandboxFiles(tree, target);
  renderSandbox(tree, target, { ...stored, localhostProxy });
  if (!options.skipFormat) await formatFiles(tree);
  return () =>
    logger.info(
      `@org/devsec: localhost:${ports.join(', localhost:')} inside ${options.project}'s dev container now reach ${targetService}. Restart it: nx run ${options.project}:up-worktree`,
    );
}

export default localhostProxyGenerator;
