/**
 * Serving an allowed write (write-policy.ts decided the call): the body read within a size
 * limit and checked, whose object the path names looked up in the engine (the owner label),
 * and only then the engine asked, on the object's full id, with the body rebuilt here.
 */
import { IncomingMessage, request as httpRequest, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Scope } from './config';
import type { EngineJson } from './redact';
import { rawResponse, sendAnswer, sendJson } from '../common/respond';
import { OBJECT_REF } from './policy';
import { encodeQuery, matchesScope } from './scope';
import { missingContainerAnswer, parseAnswer } from './scoped-reads';
import { BodyError, JsonObject, JsonValue, parseStrictJson } from './strict-json';
import { Upstream, upstreamRequestOptions } from './upstream';
import {
  checkBody,
  checkCreateBody,
  createdLabelsProblem,
  CreateRefs,
  PUBLISH_LABEL,
  checkPullRegistry,
  checks,
  isOwn,
  OWNER_LABEL,
  WRITE_LIMITS,
  WriteAllowance,
  WritePolicyOptions,
  WriteRefusal,
} from './write-policy';

/** A JSON body larger than this is refused (a create body is a few kilobytes). */
export const MAX_JSON_BODY = 1024 * 1024;
/** A call that takes no body may send `{}` or nothing; anything above this is refused. */
const MAX_EMPTY_BODY = 64;

export interface WriteContext {
  req: IncomingMessage;
  res: ServerResponse;
  decision: WriteAllowance;
  scope: Scope;
  upstream: Upstream;
  options: WritePolicyOptions;
}

/** Reads the whole body, refusing it past `limit` bytes (the rest is left for the refusal to drain). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        reject(new WriteRefusal('body-too-large', `the request body is over ${limit} bytes, this proxy's limit for it.`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<JsonValue> {
  const body = await readBody(req, MAX_JSON_BODY);
  const text = body.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(body)) throw new WriteRefusal('body', 'the request body is not valid UTF-8.');
  try {
    return parseStrictJson(text);
  } catch (error) {
    if (error instanceof BodyError) throw new WriteRefusal('body', `${error.message}.`);
    throw error;
  }
}

/** Nothing, `{}` or `null`: what clients send to calls that take no body. Never forwarded. */
/**
 * A call without a body: nothing, `{}` or `null`, or what dockerode sends there — its query
 * options again as JSON (`{"t":0}` on a stop), names the row's query accepts and scalar values.
 * Read and dropped: the engine is sent no body (it reads the query).
 */
async function readNoBody(req: IncomingMessage, query: readonly string[]): Promise<void> {
  const text = (await readBody(req, MAX_EMPTY_BODY)).toString('utf8').trim();
  if (text === '' || text === '{}' || text === 'null') return;
  let parsed: JsonValue;
  try {
    parsed = parseStrictJson(text);
  } catch {
    parsed = null;
  }
  const repeatsQuery =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.entries(parsed).every(([name, value]) => query.includes(name) && ['string', 'number', 'boolean'].includes(typeof value));
  if (!repeatsQuery) throw new WriteRefusal('body', 'this call takes no request body.');
}

const prefixOf = (decision: WriteAllowance) => (decision.version ? `/${decision.version}` : '');
const userAgentOf = (context: WriteContext) => context.req.headers['user-agent'];
const refusal = (rule: string, reason: string, status = 403) => new WriteRefusal(rule, reason, status);

/** The engine answered something other than 200 to a look-up: that answer goes to the client. */
class Relayed extends Error {
  constructor(readonly answer: import('../common/respond').Answer) {
    super('relayed');
  }
}

/** The container `ref` names, when it is the agent's own: its full id. */
async function ownContainer(context: WriteContext, ref: string, tail: string): Promise<string> {
  const { decision, upstream, scope, options } = context;
  const prefix = prefixOf(decision);
  const answer = await upstream.fetch(`${prefix}/containers/${ref}/json`, userAgentOf(context));
  if (answer.status !== 200) throw new Relayed(answer);
  const container = parseAnswer(answer) as EngineJson;
  const labels = container?.Config?.Labels;
  if (isOwn(labels, options) && typeof container.Id === 'string') return container.Id;
  if (matchesScope(labels, scope)) {
    throw refusal(
      `${decision.rule}:not-own`,
      `${ref} is not a container this sandbox created (it is one of the stack's own or shared services): it stays read-only.`,
    );
  }
  // Outside the scope: it reads exactly as a missing container.
  throw new Relayed(await missingContainerAnswer({ upstream, prefix, userAgent: userAgentOf(context), scope }, ref, tail, {}));
}

async function ownNamed(context: WriteContext, kind: 'networks' | 'volumes', ref: string): Promise<string> {
  const { decision, upstream, options } = context;
  const answer = await upstream.fetch(`${prefixOf(decision)}/${kind}/${ref}`, userAgentOf(context));
  const what = kind === 'networks' ? 'network' : 'volume';
  if (answer.status === 404)
    throw refusal(`${decision.rule}:${what}-missing`, `there is no ${what} ${ref}: create it first (docker ${what} create), then use it.`, 404);
  if (answer.status !== 200) throw new Relayed(answer);
  const object = parseAnswer(answer) as EngineJson;
  if (!isOwn(object?.Labels, options)) throw refusal(`${decision.rule}:not-own`, `${ref} is not a ${what} this sandbox created.`);
  return kind === 'networks' ? String(object.Id) : String(object.Name);
}

/** How many containers, networks or volumes the agent holds (containers: stopped ones included). */
async function countOwn(context: WriteContext, objects: 'containers' | 'networks' | 'volumes'): Promise<number> {
  const filters = JSON.stringify({ label: [`${OWNER_LABEL}=${context.options.owner}`] });
  const list = objects === 'containers' ? `containers/json${encodeQuery({ all: '1', filters })}` : `${objects}${encodeQuery({ filters })}`;
  const answer = await context.upstream.fetch(`${prefixOf(context.decision)}/${list}`, userAgentOf(context));
  if (answer.status !== 200) throw new Relayed(answer);
  const parsed = parseAnswer(answer) as EngineJson;
  const items = objects === 'volumes' ? parsed?.Volumes : parsed;
  return Array.isArray(items) ? items.length : Infinity;
}

/** WRITE_CHECKS' one-create-at-a-time: the queue every create of the process waits in. */
let createQueue: Promise<unknown> = Promise.resolve();
function oneCreateAtATime<T>(work: () => Promise<T>): Promise<T> {
  const turn = createQueue.then(work, work);
  createQueue = turn.catch(() => undefined);
  return turn;
}

/** WRITE_CHECKS' one-create-at-a-time and limit, around the `work` that makes the object. */
function guardedCreate(context: WriteContext, work: () => Promise<void>): Promise<void> {
  const { rule } = context.decision.row;
  const limited = async () => {
    const limit = WRITE_LIMITS[rule];
    if (checks(rule, 'limit') && limit) {
      const max = limit.max(context.options);
      if ((await countOwn(context, limit.objects)) >= max) {
        const setting = limit.setting ? ` (${limit.setting}=${max})` : '';
        throw refusal(`${rule}:limit`, `this sandbox holds ${max} ${limit.objects}, its limit${setting}; remove some (${limit.remove}) first.`, 429);
      }
    }
    return work();
  };
  return checks(rule, 'one-create-at-a-time') ? oneCreateAtATime(limited) : limited();
}

async function serveCreate(context: WriteContext): Promise<void> {
  const { options } = context;
  const { body, refs } = checkCreateBody(await readJson(context.req), options);
  return guardedCreate(context, () => createChecked(context, body, refs));
}

async function createChecked(context: WriteContext, body: JsonObject, refs: CreateRefs): Promise<void> {
  const { decision, options, upstream, res } = context;
  const { rule } = decision.row;
  if (checks(rule, 'own-references')) {
    for (const network of refs.networks) {
      // Forwarded by the name checked: an id prefix could name another network by the time the engine reads it.
      const id = await ownNamed(context, 'networks', network);
      if (!checks(rule, 'network-by-name') || network === id || !id.startsWith(network)) continue;
      throw refusal('container-create:network-ref', `name the network ${network} by its name or full id, not an id prefix.`);
    }
    for (const volume of refs.volumes) await ownNamed(context, 'volumes', volume);
  }
  const prefix = prefixOf(decision);
  const ua = userAgentOf(context);
  const answer = await upstream.call('POST', `${prefix}/containers/create${encodeQuery(decision.params)}`, ua, Buffer.from(JSON.stringify(body)));
  if (answer.status === 201 && checks(rule, 'made-labels')) {
    // The container's labels are its image's and the create's: an image may carry what the create
    // may not (org.devsec.*, the stack's compose project). What the engine made is what is checked.
    const id = (parseAnswer(answer) as EngineJson)?.Id;
    const made = typeof id === 'string' && OBJECT_REF.test(id) ? await upstream.fetch(`${prefix}/containers/${id}/json`, ua) : undefined;
    const stamped = (body.Labels as JsonObject | undefined)?.[PUBLISH_LABEL];
    const problem =
      made?.status === 200
        ? createdLabelsProblem((parseAnswer(made) as EngineJson)?.Config?.Labels, options, typeof stamped === 'string' ? stamped : undefined)
        : 'the engine did not show the container it made';
    if (problem) {
      if (typeof id === 'string' && OBJECT_REF.test(id)) await upstream.call('DELETE', `${prefix}/containers/${id}?force=1&v=1`, ua);
      throw refusal('container-create:labels', `${problem}; the container was removed.`);
    }
  }
  sendAnswer(res, answer);
}

const jsonBody = (value: JsonObject) => Buffer.from(JSON.stringify(value));

/** Serves one allowed write; a refusal is thrown as WriteRefusal, for the server to answer. */
export async function serveWrite(context: WriteContext): Promise<void> {
  const { decision, upstream, res, req, options } = context;
  const { row } = decision;
  const prefix = prefixOf(decision);
  const ua = userAgentOf(context);
  try {
    if (row.rule === 'container-create') return await serveCreate(context);
    let body: Buffer | IncomingMessage | undefined;
    if (row.body === 'none') await readNoBody(req, row.query);
    else if (row.body === 'archive') body = req;
    else if (row.body !== 'container-create') {
      const checked = checkBody(row.body, await readJson(req), options);
      if (row.rule === 'network-create' || row.rule === 'volume-create') {
        return await guardedCreate(context, () =>
          upstream.send(res, row.method, `${prefix}/${decision.segments.join('/')}${encodeQuery(decision.params)}`, ua, jsonBody(checked), {
            'Content-Type': 'application/json',
          }),
        );
      }
      if (row.body === 'network-connect') {
        const id = await ownContainer(context, String(checked.Container), 'json');
        checked.Container = id;
      }
      body = jsonBody(checked);
    }
    const segments = [...decision.segments];
    const ref = decision.ref as string;
    switch (row.owner) {
      case 'container':
        segments[1] = await ownContainer(context, ref, segments.slice(2).join('/') || 'json');
        break;
      case 'exec': {
        const answer = await upstream.fetch(`${prefix}/exec/${ref}/json`, ua);
        if (answer.status !== 200) throw new Relayed(answer);
        const exec = parseAnswer(answer) as EngineJson;
        await ownContainer(context, String(exec?.ContainerID ?? ''), 'json');
        segments[1] = String(exec.ID ?? ref);
        break;
      }
      case 'network':
        segments[1] = await ownNamed(context, 'networks', ref);
        break;
      case 'volume':
        segments[1] = await ownNamed(context, 'volumes', ref);
        break;
      default:
        break;
    }
    const headers: Record<string, string> = Buffer.isBuffer(body) ? { 'Content-Type': 'application/json' } : {};
    if (row.body === 'archive') headers['Content-Type'] = 'application/x-tar';
    if (row.rule === 'image-pull') {
      checkPullRegistry(decision.params, options);
      const auth = req.headers['x-registry-auth'];
      if (typeof auth === 'string' && /^[A-Za-z0-9+/=_-]{1,8192}$/.test(auth)) headers['X-Registry-Auth'] = auth;
    }
    const path = `${prefix}/${segments.join('/')}${encodeQuery(decision.params)}`;
    await upstream.send(res, row.method, path, ua, body, headers);
  } catch (error) {
    if (error instanceof Relayed) return sendAnswer(res, error.answer);
    throw error;
  }
}

/** The refusal's answer, in the policy's words. */
export function refusalMessage(error: WriteRefusal): string {
  return `devsec sandbox policy: ${error.reason}`;
}

export { sendJson };

/** The body of a hijacked call (exec start) is this small; it must come with a Content-Length. */
const MAX_UPGRADE_BODY = 1024;

/** Reads `length` bytes of body from a detached socket, `head` first; resolves with the body and what followed it. */
function readSocketBody(socket: Duplex, head: Buffer, length: number, timeoutMs: number): Promise<{ body: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = head;
    const timer = setTimeout(() => finish(new WriteRefusal('body', 'the request body did not arrive in time.', 408)), timeoutMs);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (error) return reject(error);
      resolve({ body: buffered.subarray(0, length), rest: buffered.subarray(length) });
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= length) finish();
    };
    if (buffered.length >= length) return finish();
    socket.on('data', onData);
    socket.resume();
  });
}

/**
 * `docker exec` (attached): POST /exec/{id}/start with Upgrade: tcp. The body is checked and
 * the exec's container must be the agent's own; then the proxy asks the engine itself, with the
 * body it rebuilt, and pipes the hijacked stream both ways.
 */
export async function serveUpgrade(context: Omit<WriteContext, 'res'>, socket: Duplex, head: Buffer, socketPath: string, timeoutMs: number): Promise<void> {
  const { req, decision, upstream, options } = context;
  const fail = (status: number, message: string) => socket.end(rawResponse(status, message));
  try {
    const declared = req.headers['content-length'];
    if (decision.rule === 'container-attach') return await serveAttach(context, socket, head, socketPath);
    if (req.headers['transfer-encoding'] !== undefined || declared === undefined || !/^[0-9]{1,4}$/.test(declared) || Number(declared) > MAX_UPGRADE_BODY) {
      throw new WriteRefusal('body', `an upgraded call needs a Content-Length of at most ${MAX_UPGRADE_BODY} bytes.`, 400);
    }
    const { body, rest } = await readSocketBody(socket, head, Number(declared), timeoutMs);
    let parsed: JsonValue;
    try {
      parsed = parseStrictJson(body.toString('utf8'));
    } catch (error) {
      throw error instanceof BodyError ? new WriteRefusal('body', `${error.message}.`) : error;
    }
    const checked = jsonBody(checkBody('exec-start', parsed, options));
    const prefix = prefixOf(decision);
    const ref = decision.ref as string;
    const answer = await upstream.fetch(`${prefix}/exec/${ref}/json`, userAgentOf(context as WriteContext));
    if (answer.status !== 200) return void socket.end(rawAnswer(answer));
    const exec = parseAnswer(answer) as EngineJson;
    await ownContainer(context as WriteContext, String(exec?.ContainerID ?? ''), 'json');
    const engineRequest = upstreamRequestOptions(socketPath, 'POST', `${prefix}/exec/${String(exec.ID ?? ref)}/start`, userAgentOf(context as WriteContext));
    upgradeThroughEngine(socket, engineRequest, checked, rest, fail);
  } catch (error) {
    if (error instanceof Relayed) return void socket.end(rawAnswer(error.answer));
    if (error instanceof WriteRefusal) return void fail(error.status, refusalMessage(error));
    fail(502, `devsec proxy: the Docker engine did not answer (${(error as Error).message}).`);
  }
}

/**
 * `docker attach`, `docker run` (attached): POST /containers/{id}/attach with Upgrade: tcp and no
 * body, on the agent's own container only; the proxy asks the engine itself with the query it
 * parsed, and pipes the hijacked stream both ways.
 */
async function serveAttach(context: Omit<WriteContext, 'res'>, socket: Duplex, head: Buffer, socketPath: string): Promise<void> {
  const { req, decision } = context;
  const declared = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0')) {
    throw new WriteRefusal('body', 'an attach carries no body.', 400);
  }
  const id = await ownContainer(context as WriteContext, decision.ref as string, 'json');
  const engineRequest = upstreamRequestOptions(
    socketPath,
    'POST',
    `${prefixOf(decision)}/containers/${id}/attach${encodeQuery(decision.params)}`,
    userAgentOf(context as WriteContext),
  );
  upgradeThroughEngine(socket, engineRequest, Buffer.alloc(0), head, (status, message) => socket.end(rawResponse(status, message)));
}

/**
 * Asks the engine for an upgraded call (exec start, attach) through Node's HTTP client, so its
 * answer is framed by a real parser: only a 101 opens the raw stream, and only then do the
 * client's bytes (`early`, read with the request, and the rest) reach the engine. Any other
 * answer (a detached start, an error) is relayed and both connections closed, so no client byte
 * is ever read by the engine as a request of its own (red team #29, finding 1).
 */
function upgradeThroughEngine(
  socket: Duplex,
  engineRequest: ReturnType<typeof upstreamRequestOptions>,
  body: Buffer,
  early: Buffer,
  fail: (status: number, message: string) => void,
): void {
  const outgoing = httpRequest({
    ...engineRequest,
    headers: {
      ...engineRequest.headers,
      ...(body.length > 0 ? { 'Content-Type': 'application/json' } : {}),
      'Content-Length': body.length,
      Connection: 'Upgrade',
      Upgrade: 'tcp',
    },
    agent: false,
  });
  outgoing.on('error', (error) => fail(502, `devsec proxy: the Docker engine did not answer (${error.message}).`));
  outgoing.on('response', (response) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => {
      socket.end(rawAnswer({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      outgoing.destroy();
    });
  });
  outgoing.on('upgrade', (response, engine, engineHead) => {
    const sent = response.headers['content-type'] ?? '';
    const contentType = /^application\/vnd\.docker\.(raw|multiplexed)-stream$/.test(sent) ? sent : 'application/vnd.docker.raw-stream';
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (engineHead.length > 0) socket.write(engineHead);
    if (early.length > 0) engine.write(early);
    engine.on('error', () => socket.destroy());
    socket.on('error', () => engine.destroy());
    engine.pipe(socket);
    socket.pipe(engine);
    socket.resume();
  });
  outgoing.end(body);
}

/** An engine answer read whole, as raw HTTP for a detached socket. */
function rawAnswer(answer: import('../common/respond').Answer): string {
  let message: string;
  try {
    message = String(JSON.parse(answer.body.toString('utf8')).message ?? '');
  } catch {
    message = answer.body.toString('utf8').trim();
  }
  const body = JSON.stringify({ message });
  return `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
