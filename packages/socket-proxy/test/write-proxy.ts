/**
 * The start and the clean-up the write-policy suites on the real engine share: the stack's
 * internal children network, a stack container (the dev container's compose project label), and
 * the compiled proxy serving the write policy for `owner` on the engine's own socket. Apart from
 * proxy-process.ts because tools/testing/docker asks the engine as it loads, and the unit suites
 * that start a proxy load proxy-process.ts.
 */
import { docker, dockerOk, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { RunningProxy, stackProxyEnv, startProxy } from './proxy-process';

export interface WriteSuite {
  /** The owner label's value: the suite's own prefix. */
  owner: string;
  /** The stack's internal network the children join. */
  children: string;
  /** A container of the stack (`com.docker.compose.project=<owner>`): read-only to the agent. */
  devContainer: string;
  /** The read scope's selectors (SCOPE_LABEL). */
  scopeLabel: string;
}

/** The ids (containers) or names (networks, volumes) that carry the owner label `owner`; containers stopped ones included. */
export function ownedBy(owner: string, kind: 'container' | 'network' | 'volume'): string[] {
  const filter = ['--filter', `label=org.devsec.owner=${owner}`];
  const list = kind === 'container' ? ['ps', '-aq', ...filter] : [kind, 'ls', '-q', ...filter];
  return dockerOk(list).split('\n').filter(Boolean);
}

/** Makes the children network and the stack container, then starts the proxy with the write policy (MAX_CHILDREN=4). */
export async function startWriteProxy(suite: WriteSuite): Promise<RunningProxy> {
  dockerOk(['network', 'create', '--internal', suite.children]);
  dockerOk(['run', '-d', '--name', suite.devContainer, '--label', `com.docker.compose.project=${suite.owner}`, ROOTFS_IMAGE, 'sleep', 'infinity']);
  return startProxy(
    stackProxyEnv(suite.scopeLabel, {
      WRITE_POLICY: '1',
      WRITE_OWNER: suite.owner,
      CHILDREN_NETWORK: suite.children,
      MAX_CHILDREN: '4',
    }),
  );
}

/** Stops the proxy, then removes what the agent made (the owner label), the stack container and the children network. */
export async function stopWriteProxy(proxy: RunningProxy | undefined, suite: WriteSuite): Promise<void> {
  await proxy?.stop();
  for (const id of ownedBy(suite.owner, 'container')) docker(['rm', '-f', '-v', id]);
  docker(['rm', '-f', suite.devContainer]);
  for (const name of ownedBy(suite.owner, 'network')) docker(['network', 'rm', name]);
  docker(['network', 'rm', suite.children]);
  for (const name of ownedBy(suite.owner, 'volume')) docker(['volume', 'rm', name]);
}
