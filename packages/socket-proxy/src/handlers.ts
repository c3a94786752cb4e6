/**
 * What the proxy does for each allowed rule, by the rule's `handle` in the policy table:
 * forwarding, and the scope checks, redaction and event filtering some rules need.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ScopeLabel } from './config';
import type { Allowance, Handle } from './policy';
import { EngineJson, filterNetworkContainers, redactInspect } from './redact';
import { sendAnswer, sendJson, Answer } from './respond';
import { encodeQuery, hasScopeLabel, isEventInScope, QueryParams, withScopeFilter } from './scope';
import type { Upstream } from './upstream';

/** One event line from /events larger than this is not an event. */
const MAX_EVENT_LINE = 1024 * 1024;

/** Everything a handler works from: the allowed request, the scope, and the engine. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  decision: Allowance;
  scope: ScopeLabel;
  upstream: Upstream;
}

export type Handler = (context: RequestContext) => Promise<void>;

/** Filters the newline-delimited JSON of /events down to events of containers in scope. */
export function eventScopeFilter(scope: Pick<ScopeLabel, 'key' | 'value'>): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const keep = (lines: string[]) => {
    let out = '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        if (isEventInScope(JSON.parse(line), scope)) out += `${line}\n`;
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

/** `/v1.41` or nothing, as the client sent it. */
const prefixOf = ({ decision }: RequestContext) => (decision.version ? `/${decision.version}` : '');
const pathOf = (context: RequestContext) => `${prefixOf(context)}/${context.decision.segments.join('/')}`;
const userAgentOf = ({ req }: RequestContext) => req.headers['user-agent'];

const noSuchContainer = (ref: string) => ({ message: `No such container: ${ref}` });

/**
 * Resolves a container reference to its inspect object, or hidden when it is outside the
 * scope (which the client cannot tell from a container that does not exist).
 */
async function inspectInScope(
  context: RequestContext,
  ref: string,
  params: QueryParams = {},
): Promise<{ hidden: true } | { answer: Answer; container?: EngineJson; hidden?: undefined }> {
  const answer = await context.upstream.fetch(`${prefixOf(context)}/containers/${ref}/json${encodeQuery(params)}`, userAgentOf(context));
  if (answer.status !== 200) return { answer };
  const container = JSON.parse(answer.body.toString('utf8'));
  if (!hasScopeLabel(container && container.Config && container.Config.Labels, context.scope)) return { hidden: true };
  return { answer, container };
}

export const HANDLERS: Readonly<Record<Handle, Handler>> = Object.freeze({
  forward: (context) => {
    const { decision, upstream, res } = context;
    return upstream.stream(res, decision.method, `${pathOf(context)}${encodeQuery(decision.params)}`, userAgentOf(context));
  },
  ping: async (context) => {
    sendAnswer(context.res, await context.upstream.ping(pathOf(context), userAgentOf(context)));
  },
  'container-list': (context) => {
    const { decision, upstream, res, scope } = context;
    return upstream.stream(res, decision.method, `${pathOf(context)}${encodeQuery(withScopeFilter(decision.params, scope))}`, userAgentOf(context));
  },
  events: (context) => {
    const { decision, upstream, res, scope } = context;
    const path = `${pathOf(context)}${encodeQuery(withScopeFilter(decision.params, scope))}`;
    return upstream.stream(res, decision.method, path, userAgentOf(context), eventScopeFilter(scope));
  },
  'container-inspect': async (context) => {
    const { decision, res } = context;
    const ref = decision.ref as string;
    const found = await inspectInScope(context, ref, decision.params);
    if (found.hidden) return sendJson(res, 404, noSuchContainer(ref));
    if (!found.container) return sendAnswer(res, found.answer);
    sendJson(res, 200, redactInspect(found.container), found.answer.headers);
  },
  'container-logs': async (context) => {
    const { decision, res, upstream } = context;
    const ref = decision.ref as string;
    const found = await inspectInScope(context, ref);
    if (found.hidden) return sendJson(res, 404, noSuchContainer(ref));
    if (!found.container) return sendAnswer(res, found.answer);
    // Use the resolved id so a name re-pointed after the check cannot be read.
    const logsPath = `${prefixOf(context)}/containers/${found.container.Id}/logs${encodeQuery(decision.params)}`;
    return upstream.stream(res, decision.method, logsPath, userAgentOf(context));
  },
  'image-inspect': async (context) => {
    const { decision, res, upstream } = context;
    const answer = await upstream.fetch(`${pathOf(context)}${encodeQuery(decision.params)}`, userAgentOf(context));
    if (answer.status !== 200) return sendAnswer(res, answer);
    sendJson(res, 200, redactInspect(JSON.parse(answer.body.toString('utf8'))), answer.headers);
  },
  'network-inspect': async (context) => {
    const { decision, res, upstream, scope } = context;
    const answer = await upstream.fetch(`${pathOf(context)}${encodeQuery(decision.params)}`, userAgentOf(context));
    if (answer.status !== 200) return sendAnswer(res, answer);
    const listed = await upstream.fetch(`${prefixOf(context)}/containers/json${encodeQuery(withScopeFilter({ all: '1' }, scope))}`, userAgentOf(context));
    if (listed.status !== 200) return sendAnswer(res, listed);
    const ids = new Set<string>(JSON.parse(listed.body.toString('utf8')).map((c: { Id: string }) => c.Id));
    sendJson(res, 200, filterNetworkContainers(JSON.parse(answer.body.toString('utf8')), ids), answer.headers);
  },
});
