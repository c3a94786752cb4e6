import { ExecutorContext, logger } from '@nx/devkit';
import { join } from 'node:path';
import { composeArgs, diagnoseComposeFailure, lastLogLines, streamCompose, waitUntilHealthy } from '../../host/compose-project';
import { preflight } from '../../host/engine';
import { GATE_RULES, policyGate } from '../../host/gate';
import { runCommand } from '../../host/run';
import { prepareWorktree, rememberState, summary } from '../../host/sandbox-stack';
import { ensureSharedNetwork, sharedNetworkName } from '../../host/shared-network';
import { buildInputsHash, buildSpecs, gateInputsHash, WorktreeState } from '../../host/worktree-state';
import { ENV_FILE } from '../../sandbox/vocabulary';
import { reportingErrors } from '../reporting';
import type { UpWorktreeExecutorSchema } from './schema';

const GATE_VERSION = `${require('../../../package.json').version} ${GATE_RULES.join(',')}`;

export default function upWorktreeExecutor(options: UpWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    // No preflight on the way in (each docker/compose run costs tens of ms): a failure runs it, and gets its message.
    const stack = prepareWorktree(context.root, options.composeFile);
    const previous: WorktreeState = stack.state ?? {};
    const unsafeAllow = [options.unsafeAllow ?? []]
      .flat()
      .flatMap((rule) => rule.split(','))
      .filter(Boolean);

    // The gate: skipped only when everything it would read is what it passed last time.
    const gateInputs =
      unsafeAllow.length === 0 ? gateInputsHash(stack.compose.files, join(stack.devcontainerDir, ENV_FILE), process.env, GATE_VERSION) : undefined;
    let network = previous.network;
    let builds = previous.builds ?? [];
    if (!gateInputs || gateInputs !== previous.gateInputs) {
      const { model, allowed } = policyGate(stack, unsafeAllow);
      for (const finding of allowed) logger.warn(`UNSAFE: ${finding.rule} allowed by --unsafe-allow: ${finding.message}`);
      network = sharedNetworkName(model);
      builds = buildSpecs(model);
    }

    // Build when asked, or when an image's inputs changed since the last build (compose builds missing images itself).
    const buildInputs = buildInputsHash(builds);
    const build = options.build ?? buildInputs !== previous.buildInputs;
    const args = ['up', '--detach', '--remove-orphans', ...(build ? ['--build'] : [])];
    logger.info(`Starting ${stack.identity.composeProjectName}: docker ${composeArgs(stack.compose, ...args).join(' ')}`);
    const start = () =>
      streamCompose(stack.compose, args).catch((error) => {
        preflight();
        throw error;
      });
    let { code, lines } = await start();
    // up-shared creates the shared network; when Compose says it is missing, create it here and start again.
    if (code !== 0 && network && lines.some((line) => /network .*(declared as external|not found)/i.test(line))) {
      ensureSharedNetwork(network, runCommand, (line) => logger.info(line));
      ({ code, lines } = await start());
    }
    if (code !== 0) {
      preflight();
      const logs = lastLogLines(stack.compose);
      logger.error(diagnoseComposeFailure(code, lines));
      if (logs.trim()) logger.error(`Last log lines:\n${logs}`);
      logger.error(`To remove what did start: nx run ${context.projectName}:down-worktree`);
      return false;
    }
    // Undefined fields are left out of the state line. Images skipped by --build=false may be stale: keep what was last built.
    rememberState(stack, { gateInputs, network, builds, buildInputs: build ? buildInputs : previous.buildInputs });
    try {
      const entries = options.wait === false ? undefined : await waitUntilHealthy(stack.compose);
      logger.info(summary(stack, entries ?? []));
    } catch (error) {
      logger.error(`To remove what did start: nx run ${context.projectName}:down-worktree`);
      throw error;
    }
    return true;
  });
}
