/**
 * Figure 13: the write policy (--testContainers). `docker run --rm <image> true` through our
 * proxy in its container (create, attach, start, wait, the engine removes it) / the same on the
 * direct socket, both on the same internal network; then the proxy's memory with 16 children of
 * the agent's running, against the mem_limit the generated stack gives it.
 */
import { docker, dockerOk, rows, RUN } from './common';
import { alternate, ratioRow } from './measure';
import { mb } from './memory-figure';
import { memoryOf, RunFlags, startOurProxy } from './stack-helpers';

const IMAGE = 'devsec-rootfs:trixie';
const CHILDREN = 16;

export async function benchChildren(runFlags: RunFlags, sockets: string): Promise<void> {
  const network = `devsec-bench-children-${RUN}`;
  const owner = `bench-${RUN}`;
  dockerOk(['network', 'create', '--internal', '--label', `org.devsec.bench=${RUN}`, network]);
  const proxy = await startOurProxy(runFlags, sockets, undefined, [
    'WRITE_POLICY=1',
    `WRITE_OWNER=${owner}`,
    `CHILDREN_NETWORK=${network}`,
    'ALLOW_REGISTRIES=docker.io',
    `MAX_CHILDREN=${CHILDREN}`,
  ]);
  const ok = (args: string[], host?: string) => {
    const result = docker(args, host ? { DOCKER_HOST: host } : {});
    if (result.status !== 0) throw new Error(`docker ${args.join(' ')}${host ? ' (through the proxy)' : ''}: ${result.stderr}`);
    return result.stdout;
  };
  try {
    const run = ['run', '--rm', '--network', network, IMAGE, 'true'];
    const { ta, tb } = alternate(
      15,
      () => ok(run, proxy.host),
      () => ok(run),
    );
    rows.push(ratioRow('13. `docker run --rm <image> true`: through the proxy with the write policy, in its container / direct (15 pairs)', ta, tb, '≤ 1.15'));
    // The engine removes the --rm ones as they exit: the count limit is for children at once.
    for (let i = 0; i < 50 && docker(['ps', '-aq', '--filter', `label=org.devsec.owner=${owner}`]).stdout.trim() !== ''; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const idle = memoryOf(proxy.name);
    for (let i = 0; i < CHILDREN; i++) ok(['run', '-d', '--name', `devsec-bench-child-${RUN}-${i}`, IMAGE, 'sleep', 'infinity'], proxy.host);
    // What an agent's test does meanwhile: list, inspect and exec into each.
    ok(['ps'], proxy.host);
    for (let i = 0; i < CHILDREN; i++) {
      ok(['inspect', `devsec-bench-child-${RUN}-${i}`], proxy.host);
      ok(['exec', `devsec-bench-child-${RUN}-${i}`, 'true'], proxy.host);
    }
    const busy = memoryOf(proxy.name);
    const limit = runFlags[runFlags.indexOf('--memory') + 1];
    rows.push([
      `13′. the proxy (write policy) with ${CHILDREN} children running, after ps, inspect and exec of each / idle`,
      `RSS ${mb(busy.rss)} MB · PSS ${mb(busy.pss)} · anon ${mb(busy.anon)}`,
      `RSS ${mb(idle.rss)} MB · PSS ${mb(idle.pss)} · anon ${mb(idle.anon)}`,
      (busy.rss / idle.rss).toFixed(3),
      `within mem_limit ${limit}`,
      '–',
    ]);
  } finally {
    proxy.stop();
    const left = docker(['ps', '-aq', '--filter', `label=org.devsec.owner=${owner}`]).stdout.trim();
    if (left) docker(['rm', '-f', ...left.split('\n')]);
    docker(['network', 'rm', network]);
  }
}
