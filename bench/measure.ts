/** Timing helpers for the benchmarks: medians, spreads, A/B rotation, process stats. */
import { readFileSync } from 'node:fs';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const ms = (x: number) => `${x.toFixed(1)} ms`;
export const spread = (xs: number[]) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;

/** A row of the table comparing two series of times by their medians: label, A, B, A/B, target, spreads. */
export const ratioRow = (label: string, ta: number[], tb: number[], target = '–') => [
  label,
  ms(median(ta)),
  ms(median(tb)),
  (median(ta) / median(tb)).toFixed(3),
  target,
  spread(ta) + ' / ' + spread(tb),
];

/** Times each of `fns` once per round, `rounds` times, rotating who goes first, after one warm-up each. */
export function rotate(rounds: number, fns: Array<() => unknown>): number[][] {
  for (const fn of fns) fn();
  const times: number[][] = fns.map(() => []);
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (i + k) % fns.length;
      const start = process.hrtime.bigint();
      fns[j]();
      times[j].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  return times;
}

/** Times `fn` alternately for A and B, `pairs` times, after one warm-up each. */
export function alternate(pairs: number, a: () => unknown, b: () => unknown) {
  const [ta, tb] = rotate(pairs, [a, b]);
  return { ta, tb, ratio: median(ta) / median(tb) };
}

/** Times async `a` and `b` alternately, `pairs` times; `reset` runs untimed before each. */
export async function alternateAsync(
  pairs: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  reset: () => Promise<unknown> = async () => undefined,
) {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const order: Array<[() => Promise<unknown>, number[]]> =
      i % 2
        ? [
            [b, tb],
            [a, ta],
          ]
        : [
            [a, ta],
            [b, tb],
          ];
    for (const [fn, out] of order) {
      await reset();
      const start = process.hrtime.bigint();
      await fn();
      out.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  return { ta, tb, ratio: median(ta) / median(tb) };
}

/** Resident memory (now and peak) and CPU ticks of a process, from /proc. */
export function procStats(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf-8');
  const kb = (key: string) => Number((new RegExp(`${key}:\\s+(\\d+)`).exec(status) as RegExpExecArray)[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf-8').split(') ')[1].split(' ');
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}
