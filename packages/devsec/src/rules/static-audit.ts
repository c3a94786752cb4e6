/**
 * `nx run <project>:audit`: a static review of a project's sandbox, the way a security reviewer
 * would read it — every policy-gate rule plus what only a file-by-file read shows — with the
 * file and line of each finding. Pure over a `read` function, so tests feed it a Tree.
 */
import { Document, isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { ComposeModel, ComposeService, ComposeVolume } from '../sandbox/compose-model';
import { parseJsonc } from '../sandbox/jsonc';
import {
  APP_SERVICE,
  COMPOSE_FILE,
  DEVCONTAINER_DIR,
  DEVCONTAINER_JSON,
  DOCKERFILE,
  PROXY_SERVICE,
  SERVICES_COMPOSE_FILE,
  SHARED_COMPOSE_FILE,
  WRITE_SWITCHES,
} from '../sandbox/vocabulary';
import { checkSandbox } from './compose-rules';
import { finding, Finding, RuleId } from './registry';
import { sortFindings } from './report';

export type { AuditFinding } from './report';

interface Parsed {
  path: string;
  doc: Document;
  lines: LineCounter;
}

function parseYamlFile(path: string, text: string): Parsed {
  const lines = new LineCounter();
  return { path, doc: parseDocument(text, { lineCounter: lines }), lines };
}

/** The 1-based line of a key path in a parsed YAML file, or of the nearest parent found. */
function lineOf(file: Parsed, path: Array<string | number>): number | undefined {
  for (let length = path.length; length > 0; length--) {
    const node = file.doc.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return file.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

const volumeText = (volume: ComposeVolume) => (typeof volume === 'string' ? volume : `${volume.source ?? ''}:${volume.target ?? ''}`);

function isPinned(image: string): boolean {
  if (image.includes('@sha256:')) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return tag !== undefined && tag !== 'latest' && !tag.includes('${');
}

/** Compose's merge, close enough for auditing: lists add up, maps merge, scalars override. */
function mergeService(base: ComposeService | undefined, override: ComposeService): ComposeService {
  const merged: ComposeService = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    if (Array.isArray(current) && Array.isArray(value)) merged[key] = [...current, ...value];
    else if (current && value && typeof current === 'object' && typeof value === 'object' && !Array.isArray(value)) merged[key] = { ...current, ...value };
    else merged[key] = value;
  }
  return merged;
}

type Fields = { key: string; message: string; service?: string; fix?: string };

export function auditSandbox(projectRoot: string, read: (path: string) => string | null): Finding[] {
  const dir = `${projectRoot}/${DEVCONTAINER_DIR}`;
  const composePath = `${dir}/${COMPOSE_FILE}`;
  const composeText = read(composePath);
  if (composeText === null) return [finding('no-sandbox', { file: composePath, key: '', message: 'This project has no sandbox of ours.' })];
  const files: Parsed[] = [parseYamlFile(composePath, composeText)];
  const servicesText = read(`${dir}/${SERVICES_COMPOSE_FILE}`);
  if (servicesText !== null) files.push(parseYamlFile(`${dir}/${SERVICES_COMPOSE_FILE}`, servicesText));
  const findings = [
    ...auditCompose(files, composePath),
    ...auditDockerfile(`${dir}/${DOCKERFILE}`, read(`${dir}/${DOCKERFILE}`)),
    ...auditDevcontainer(`${dir}/${DEVCONTAINER_JSON}`, read(`${dir}/${DEVCONTAINER_JSON}`), composePath),
    ...auditSharedFile(read(SHARED_COMPOSE_FILE)),
  ];
  return sortFindings(findings);
}

/** The stack's compose files, merged the way the stack runs. */
function auditCompose(files: Parsed[], composePath: string): Finding[] {
  const model: ComposeModel & { services: Record<string, ComposeService> } = { services: {}, networks: {} };
  for (const file of files) {
    const json = (file.doc.toJSON() ?? {}) as ComposeModel;
    for (const [name, service] of Object.entries(json.services ?? {})) model.services[name] = mergeService(model.services[name], service ?? {});
    Object.assign(model.networks!, json.networks ?? {});
  }
  const findings: Finding[] = [];
  // A finding points at the last file that sets its key (an override wins), else the main file.
  const at = (key: string) => {
    const path = key.split('.');
    const file = [...files].reverse().find((candidate) => candidate.doc.hasIn(path)) ?? files[0];
    return { file: file.path, line: lineOf(file, path) };
  };
  const add = (rule: RuleId, fields: Fields) => findings.push(finding(rule, { ...fields, ...at(fields.key) }));
  // What is missing is missing from the main file, which the generator writes.
  const addMissing = (rule: RuleId, fields: Fields) =>
    findings.push(finding(rule, { ...fields, file: files[0].path, line: lineOf(files[0], fields.key.split('.')) }));

  for (const { at: _at, ...found } of checkSandbox({ composeFile: composePath, compose: model })) findings.push({ ...found, ...at(found.key) });

  const app = model.services[APP_SERVICE];
  if (app) {
    const volumes = (app.volumes ?? []).map(volumeText);
    const appKey = { service: APP_SERVICE, key: `services.${APP_SERVICE}.volumes` };
    if (!volumes.some((v) => /\.devcontainer:ro$|^\.\/:.*:ro$/.test(v))) {
      addMissing('sandbox-writable', {
        ...appKey,
        message: "The sandbox's own definition (.devcontainer) is writable from inside: the agent can weaken the next start.",
      });
    }
    if (!volumes.some((v) => /hooks(:[^:]+)?:ro$/.test(v))) {
      addMissing('git-hooks-writable', { ...appKey, message: ".git/hooks is writable from inside: a planted hook runs on the host's next git command." });
    }
    if (!volumes.some((v) => /^[A-Za-z0-9_.-]+:.*\/node_modules$/.test(v))) {
      addMissing('node-modules-shared', {
        ...appKey,
        message: "node_modules is shared with the host: a package's install script or a patched binary runs on the host later.",
      });
    }
  }
  for (const [name, service] of Object.entries(model.services)) {
    if (typeof service.image === 'string' && !isPinned(service.image)) {
      add('unpinned-image', { service: name, key: `services.${name}.image`, message: `${name} runs ${service.image} without a pinned tag.` });
    }
  }
  const proxyEnv = model.services[PROXY_SERVICE]?.environment;
  const env = Array.isArray(proxyEnv) ? Object.fromEntries(proxyEnv.map((e) => e.split('='))) : (proxyEnv ?? {});
  for (const name of WRITE_SWITCHES) {
    if (env[name] !== undefined && /^(1|true|yes|on)$/i.test(String(env[name]))) {
      add('proxy-write-switch', {
        service: PROXY_SERVICE,
        key: `services.${PROXY_SERVICE}.environment.${name}`,
        message: `The proxy is asked for write access (${name}=${env[name]}).`,
        fix: `Remove ${name}.`,
      });
    }
  }
  return findings;
}

function auditDockerfile(path: string, dockerfile: string | null): Finding[] {
  if (dockerfile === null) return [];
  const findings: Finding[] = [];
  const lines = dockerfile.split('\n');
  const sudoLine = lines.findIndex((line) => !line.trim().startsWith('#') && /\bsudo\b/.test(line));
  if (sudoLine !== -1) {
    findings.push(finding('sudo', { file: path, line: sudoLine + 1, key: 'RUN', message: 'The image installs or uses sudo: the agent can become root.' }));
  }
  const users = lines.map((line, index) => [/^\s*USER\s+(\S+)/i.exec(line)?.[1], index] as const).filter(([user]) => user);
  const last = users[users.length - 1];
  if (!last || /^(root|0)(:|$)/.test(String(last[0]))) {
    findings.push(
      finding('runs-as-root', { file: path, line: last ? last[1] + 1 : 1, key: 'USER', message: 'The image ends as root.', fix: 'End with USER node.' }),
    );
  }
  lines.forEach((line, index) => {
    const from = /^\s*(?:ARG\s+BASE_IMAGE=|FROM\s+)(\S+)/i.exec(line)?.[1];
    if (from && !from.startsWith('$') && !isPinned(from)) {
      findings.push(
        finding('unpinned-image', {
          file: path,
          line: index + 1,
          key: 'FROM',
          message: `The image builds from ${from} without a pinned tag.`,
          fix: 'Pin a tag, e.g. node:24-trixie-slim.',
        }),
      );
    }
  });
  return findings;
}

function auditDevcontainer(path: string, text: string | null, composePath: string): Finding[] {
  if (text === null) return [];
  const config = parseJsonc<Record<string, unknown>>(text);
  const lineOfKey = (key: string) => text.split('\n').findIndex((line) => line.includes(`"${key}"`)) + 1 || undefined;
  const findings: Finding[] = checkSandbox({ composeFile: composePath, compose: { services: {} }, devcontainerFile: path, devcontainer: config }).map(
    (found) => ({ ...found, line: lineOfKey(found.key) }),
  );
  const add = (rule: RuleId, key: string, message: string, fix?: string) =>
    findings.push(finding(rule, { file: path, line: lineOfKey(key), key, message, fix }));
  const runArgs = Array.isArray(config.runArgs) ? config.runArgs.join(' ') : '';
  if (/--privileged|--cap-add|docker\.sock|--pid[= ]host|--network[= ]host/.test(runArgs))
    add('devcontainer-escape', 'runArgs', `runArgs asks for a way out: ${runArgs}`);
  if (Array.isArray(config.capAdd) && config.capAdd.length > 0) add('dangerous-capability', 'capAdd', `capAdd: ${config.capAdd.join(', ')}`, 'Remove capAdd.');
  if (JSON.stringify(config.mounts ?? []).includes('docker.sock'))
    add('socket-mount', 'mounts', 'devcontainer.json mounts the Docker socket.', 'Remove the mount; use the proxy.');
  return findings;
}

/** The shared services: published ports. */
function auditSharedFile(text: string | null): Finding[] {
  if (text === null) return [];
  const shared = parseYamlFile(SHARED_COMPOSE_FILE, text);
  const services = shared.doc.get('services');
  if (!isMap(services)) return [];
  const findings: Finding[] = [];
  for (const item of services.items) {
    const name = String((item.key as { value?: unknown })?.value ?? item.key);
    const ports = shared.doc.getIn(['services', name, 'ports']);
    if (!isSeq(ports)) continue;
    for (const port of ports.toJSON() as unknown[]) {
      const text = typeof port === 'string' ? port : `${(port as { host_ip?: string }).host_ip ?? ''}:${(port as { published?: string }).published ?? ''}`;
      if (!/^(127\.0\.0\.1|\[::1\]|::1):/.test(text)) {
        findings.push(
          finding('published-on-all-interfaces', {
            file: SHARED_COMPOSE_FILE,
            line: lineOf(shared, ['services', name, 'ports']),
            service: name,
            key: `services.${name}.ports`,
            message: `${name} publishes ${text} on every interface: anyone on your network reaches the database.`,
          }),
        );
      }
    }
  }
  return findings;
}
