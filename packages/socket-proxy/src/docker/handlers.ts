/**
 * What the proxy does for each allowed rule, by the rule's `handle` in the policy table:
 * forwarding, and the scope checks, redaction and event filtering some rules need.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from './config';
import { eventScopeFilter } from './events';
import type { Allowance, Handle } from './policy';
import { EngineJson, filterNetworkContainers, networkListNamesContainers, redactInfo, redactInspect, redactVolume, redactVolumeList } from './redact';
import { sendAnswer, sendJson } from '../common/respond';
import { encodeQuery, eventQuery } from './scope';
import { EngineReader, idsInScope, inspectInScope, listInScopeAnchored, missingContainerAnswer, parseAnswer, unexpectedAnswer } from './scoped-reads';
import type { Upstream } from './upstream';

/** Everything a handler works from: the allowed request, the scope, and the engine. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  decision: Allowance;
  scope: Scope;
  upstream: Upstream;
}

export type Handler = (context: RequestContext) => Promise<void>;

/** `/v1.41` or nothing, as the client sent it. */
const prefixOf = ({ decision }: RequestContext) => (decision.version ? `/${decision.version}` : '');
const pathOf = (context: RequestContext) => `${prefixOf(context)}/${context.decision.segments.join('/')}`;
const readerOf = (context: RequestContext): EngineReader => ({
  upstream: context.upstream,
  prefix: prefixOf(context),
  userAgent: context.req.headers['user-agent'],
  scope: context.scope,
});

/** Reads the answer whole and sends it redacted; an answer that is not JSON is not passed on. */
const redacting =
  (redact: (value: EngineJson) => EngineJson): Handler =>
  async (context) => {
    const { decision, res } = context;
    const reader = readerOf(context);
    const answer = await reader.upstream.fetch(`${pathOf(context)}${encodeQuery(decision.params)}`, reader.userAgent);
    if (answer.status !== 200) return sendAnswer(res, answer);
    const value = parseAnswer(answer);
    if (value === undefined) return sendAnswer(res, unexpectedAnswer(`/${decision.segments.join('/')}`));
    sendJson(res, 200, redact(value), answer.headers);
  };

export const HANDLERS: Readonly<Record<Handle, Handler>> = Object.freeze({
  forward: (context) => {
    const { decision, upstream, res } = context;
    return upstream.stream(res, decision.method, `${pathOf(context)}${encodeQuery(decision.params)}`, readerOf(context).userAgent);
  },
  ping: async (context) => {
    sendAnswer(context.res, await context.upstream.ping(pathOf(context), readerOf(context).userAgent));
  },
  'container-list': async (context) => {
    const listed = await listInScopeAnchored(readerOf(context), context.decision.params);
    if ('failed' in listed) return sendAnswer(context.res, listed.failed);
    sendJson(context.res, 200, listed.containers, listed.answer.headers);
  },
  events: (context) => {
    const { decision, upstream, res, scope } = context;
    const path = `${pathOf(context)}${encodeQuery(eventQuery(decision.params))}`;
    return upstream.stream(res, decision.method, path, readerOf(context).userAgent, eventScopeFilter(scope));
  },
  'container-inspect': async (context) => {
    const { decision, res } = context;
    const ref = decision.ref as string;
    const reader = readerOf(context);
    const found = await inspectInScope(reader, ref, decision.params);
    if (found.hidden) return sendAnswer(res, await missingContainerAnswer(reader, ref, 'json', decision.params));
    if (!found.container) return sendAnswer(res, found.answer);
    sendJson(res, 200, redactInspect(found.container), found.answer.headers);
  },
  'container-logs': async (context) => {
    const { decision, res, upstream } = context;
    const ref = decision.ref as string;
    const reader = readerOf(context);
    const found = await inspectInScope(reader, ref);
    // Hidden or missing: the logs endpoint's own answer for a missing container (its parameter checks come first).
    if (found.hidden || found.answer.status === 404) return sendAnswer(res, await missingContainerAnswer(reader, ref, 'logs', decision.params));
    if (!found.container) return sendAnswer(res, found.answer);
    // Use the resolved id so a name re-pointed after the check cannot be read.
    const logsPath = `${prefixOf(context)}/containers/${found.container.Id}/logs${encodeQuery(decision.params)}`;
    return upstream.stream(res, decision.method, logsPath, reader.userAgent);
  },
  'image-inspect': redacting(redactInspect),
  info: redacting(redactInfo),
  'volume-list': redacting(redactVolumeList),
  'volume-inspect': redacting(redactVolume),
  'network-list': async (context) => {
    const { decision, res } = context;
    const reader = readerOf(context);
    const answer = await reader.upstream.fetch(`${pathOf(context)}${encodeQuery(decision.params)}`, reader.userAgent);
    if (answer.status !== 200) return sendAnswer(res, answer);
    const networks = parseAnswer(answer);
    if (!Array.isArray(networks)) return sendAnswer(res, unexpectedAnswer('a network list'));
    // API versions before 1.28 list every network's containers, as inspect does.
    let ids = new Set<string>();
    if (networkListNamesContainers(networks)) {
      const scoped = await idsInScope(reader);
      if ('failed' in scoped) return sendAnswer(res, scoped.failed);
      ids = scoped.ids;
    }
    sendJson(
      res,
      200,
      networks.map((network) => filterNetworkContainers(network, ids)),
      answer.headers,
    );
  },
  'network-inspect': async (context) => {
    const { decision, res } = context;
    const reader = readerOf(context);
    const answer = await reader.upstream.fetch(`${pathOf(context)}${encodeQuery(decision.params)}`, reader.userAgent);
    if (answer.status !== 200) return sendAnswer(res, answer);
    const network = parseAnswer(answer);
    if (network === null || typeof network !== 'object' || Array.isArray(network)) return sendAnswer(res, unexpectedAnswer('a network inspect'));
    const scoped = await idsInScope(reader);
    if ('failed' in scoped) return sendAnswer(res, scoped.failed);
    sendJson(res, 200, filterNetworkContainers(network, scoped.ids), answer.headers);
  },
});
