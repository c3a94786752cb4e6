/**
 * Figure 6: idle memory of a stack's helpers (proxy + forwarder), ours against the recipe's
 * (HAProxy + socat), in containers as a stack runs them; and what each Node setting we tried
 * changes. Pairs run one at a time, so that PSS splits shared pages within the pair only
 * (and with whatever else on the machine maps the same files).
 */
import { rows } from './common';
import { median } from './measure';
import { Helper, Memory, memoryOf, startBareNode, startHaproxy, startOurForwarder, startOurProxy, startSocat, sumMemory } from './stack-helpers';

/** Every Node and V8 setting below that may lower idle memory, together (--single-threaded implies no V8 pool). */
export const ALL_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=32', '--single-threaded', '--jitless', '--lite-mode'];

/** Node settings tried on both helpers; `undefined` is the image's own entrypoint. */
const VARIANTS: ReadonlyArray<[string, string[] | undefined]> = [
  ['as shipped (no flags)', undefined],
  ['--max-semi-space-size=1', ['--max-semi-space-size=1']],
  ['--max-old-space-size=32', ['--max-old-space-size=32']],
  ['--v8-pool-size=1', ['--v8-pool-size=1']],
  ['--single-threaded', ['--single-threaded']],
  ['--jitless', ['--jitless']],
  ['--lite-mode', ['--lite-mode']],
  ['all of these together', ALL_FLAGS],
  ['every module loaded at start-up (as before)', ['-r', '/opt/devsec-socket-proxy/src/index.js']],
];
const ROUNDS = 3;
const SETTLE_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const mb = (kb: number) => (kb / 1024).toFixed(1);
const summary = (m: Memory) => `RSS ${mb(m.rss)} MB · PSS ${mb(m.pss)} · anon ${mb(m.anon)}`;

/** Each field's median over rounds. */
function medianMemory(samples: Memory[]): Memory {
  const field = (key: keyof Memory) => median(samples.map((m) => m[key]));
  return { rss: field('rss'), pss: field('pss'), anon: field('anon'), file: field('file'), threads: field('threads') };
}

/** Starts a pair, lets it settle, reads each helper's memory, stops it. */
async function measurePair(start: () => Promise<Helper[]>): Promise<Memory[]> {
  const helpers = await start();
  try {
    await sleep(SETTLE_MS);
    return helpers.map((helper) => memoryOf(helper.name));
  } finally {
    for (const helper of helpers) helper.stop();
  }
}

export interface PairFlags {
  proxy: string[];
  forwarder: string[];
}

/** Rows for figure 6 in the main table; the per-setting table is returned for results.md. */
export async function benchMemory(flags: PairFlags, sockets: string): Promise<string[]> {
  const pairs: Array<[string, () => Promise<Helper[]>]> = [
    ['recipe', async () => [await startHaproxy(flags.proxy, sockets), await startSocat(flags.forwarder)]],
    ['floor', async () => [await startBareNode(flags.proxy), await startBareNode(flags.forwarder)]],
    ...VARIANTS.map(([label, nodeArgs]): [string, () => Promise<Helper[]>] => [
      label,
      async () => [await startOurProxy(flags.proxy, sockets, nodeArgs), await startOurForwarder(flags.forwarder, nodeArgs)],
    ]),
  ];
  const samples = new Map<string, Memory[][]>(pairs.map(([label]) => [label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so that no setting always runs first or last.
    for (let k = 0; k < pairs.length; k++) {
      const [label, start] = pairs[(round + k) % pairs.length];
      (samples.get(label) as Memory[][]).push(await measurePair(start));
    }
  }
  const measured = (label: string) => {
    const rounds = samples.get(label) as Memory[][];
    const each = rounds[0].map((_, i) => medianMemory(rounds.map((r) => r[i])));
    return { each, pair: medianMemory(rounds.map((r) => sumMemory(...r))) };
  };
  const ours = measured(VARIANTS[0][0]);
  const recipe = measured('recipe');
  const floor = measured('floor');
  rows.push([
    `6. Idle memory of a stack's helpers in their containers: proxy + forwarder (ours, as shipped) / HAProxy + socat (medians of ${ROUNDS})`,
    summary(ours.pair),
    summary(recipe.pair),
    (ours.pair.rss / recipe.pair.rss).toFixed(3),
    '≤ 50 MB',
    `RSS: proxy ${mb(ours.each[0].rss)} + forwarder ${mb(ours.each[1].rss)} / HAProxy ${mb(recipe.each[0].rss)} + socat ${mb(recipe.each[1].rss)}`,
  ]);
  rows.push([
    "6′. the floor: two bare Node processes (`node -e 'setInterval(…)'`) in the same image and containers",
    summary(floor.pair),
    summary(recipe.pair),
    (floor.pair.rss / recipe.pair.rss).toFixed(3),
    '–',
    `file-backed RSS per Node process ${mb(floor.each[0].file)} MB (libnode, ICU, OpenSSL)`,
  ]);
  const line = (label: string) => {
    const { each, pair } = measured(label);
    const [a, b] = each;
    return `| ${label} | ${mb(a.rss)} / ${mb(a.anon)} / ${mb(a.file)} | ${mb(b.rss)} / ${mb(b.anon)} / ${mb(b.file)} | ${mb(pair.rss)} | ${mb(pair.pss)} | ${mb(pair.anon)} | ${pair.threads} |`;
  };
  return [
    `Figure 6 in detail: medians of ${ROUNDS} rounds, MB; each pair alone on the engine, settled ${SETTLE_MS / 1000} s after start.`,
    '',
    '| pair, setting | proxy RSS / anon / file | forwarder RSS / anon / file | pair RSS | pair PSS | pair anon | threads |',
    '|---|---|---|---|---|---|---|',
    line('recipe').replace('| recipe |', '| HAProxy + socat (the recipe) |'),
    line('floor').replace('| floor |', '| two bare Node processes (the floor) |'),
    ...VARIANTS.map(([label]) => line(label).replace(`| ${label} |`, `| ours, ${label} |`)),
    '',
  ];
}
