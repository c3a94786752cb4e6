/** The /events stream, filtered line by line: events of containers in scope only, redacted. */
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Scope } from './config';
import { redactEvent } from './redact';
import { isEventInScope } from './scope';

/** One event line from /events larger than this is not an event. */
const MAX_EVENT_LINE = 1024 * 1024;

/**
 * Keeps the whole lines of events of containers in scope, redacted. A line is re-serialised
 * only when redaction changed it; a line that is not JSON is dropped, not judged.
 */
export function eventScopeFilter(scope: Pick<Scope, 'anyOf'>): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const keep = (lines: string[]) => {
    let out = '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const event = JSON.parse(line);
        if (!isEventInScope(event, scope)) continue;
        const redacted = redactEvent(event);
        out += `${redacted === event ? line : JSON.stringify(redacted)}\n`;
      } catch {
        // Not an event: drop it rather than pass through something we cannot judge.
      }
    }
    return out;
  };
  return new Transform({
    transform(chunk, _encoding, callback) {
      pending += decoder.write(chunk);
      const lines = pending.split('\n');
      pending = lines.pop() as string;
      if (pending.length > MAX_EVENT_LINE) {
        callback(new Error('event line too long'));
        return;
      }
      const out = keep(lines);
      callback(null, out === '' ? undefined : out);
    },
    flush(callback) {
      const out = keep([pending + decoder.end()]);
      callback(null, out === '' ? undefined : out);
    },
  });
}
