/** What the egress handlers share: the per-request log line and the guarded way out. */
import type { Dialed, DialMode } from './dial';
import type { EgressConfig } from './config';
import type { Refusal, Target } from './request';
import type { AccessEntry, Logger } from '../common/logger';

/**
 * One line per request or tunnel, written when it ends. No path or query: URLs carry tokens.
 * `up` and `down` count payload bytes (bodies, or the tunnel's bytes each way).
 */
export interface EgressAccessEntry extends AccessEntry {
  host?: string;
  port?: number;
  /** The address connected to, as resolved by the proxy. */
  address?: string;
  /** The upstream proxy it went through (its URL without credentials), if any. */
  via?: string;
  up: number;
  down: number;
}

export type EgressLog = Pick<Logger, 'access' | 'error'>;

export interface EgressContext {
  config: EgressConfig;
  log: EgressLog;
  /** Resolves, judges and connects, within the cap on upstream connections. */
  dial(target: Target, privateAllowed: boolean, mode: DialMode): Promise<Dialed | Refusal>;
}

export interface Access {
  entry: EgressAccessEntry;
  /** Logs the entry, once: later calls do nothing. */
  finish(status: number, error?: string): void;
}

export function startAccess(log: EgressLog, method: string | undefined): Access {
  const started = process.hrtime.bigint();
  const entry: EgressAccessEntry = { method, decision: 'deny', rule: '', status: 0, up: 0, down: 0 };
  let logged = false;
  return {
    entry,
    finish(status, error) {
      if (logged) return;
      logged = true;
      entry.status = status;
      entry.ms = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
      if (error) entry.error = error;
      log.access(entry);
    },
  };
}
