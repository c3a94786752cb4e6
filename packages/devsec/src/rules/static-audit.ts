/**
 * `nx run <project>:audit`: a static review of a project's sandbox, the way a security reviewer
 * would read it — every policy-gate rule plus what only a file-by-file read shows — with the
 * file and line of each finding. Pure over a `read` function, so tests feed it a Tree.
 */
import { posix } from 'node:path';
import { ComposeVolume } from '../sandbox/compose-model';
import { jsoncPropertyLine, parseJsonc } from '../sandbox/jsonc';
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
import { interpolateModel } from './interpolate';
import { finding, Finding, RuleId } from './registry';
import { sortFindings } from './report';
import { checkStack, StackContext } from './stack-rules';
import { mergeFiles, MergedFiles, parseYamlFile, YamlFile } from './yaml-files';

export type { AuditFinding } from './report';

/** Where the audit places the workspace and your home when the caller does not say: names, not real paths. */
const PLACEHOLDER_ROOT = '/<workspace>';
const PLACEHOLDER_HOME = '/<home>';

/** What the caller knows of the host; without it, absolute paths are judged against placeholders (so any is outside). */
export interface AuditHost {
  workspaceRoot?: string;
  homeDir?: string;
}

const volumeText = (volume: ComposeVolume) => (typeof volume === 'string' ? volume : `${volume.source ?? ''}:${volume.target ?? ''}`);

function isPinned(image: string): boolean {
  if (image.includes('@sha256:')) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return tag !== undefined && tag !== 'latest' && !tag.includes('${');
}

export function auditSandbox(projectRoot: string, read: (path: string) => string | null, host: AuditHost = {}): Finding[] {
  const dir = `${projectRoot}/${DEVCONTAINER_DIR}`;
  const composePath = `${dir}/${COMPOSE_FILE}`;
  const composeText = read(composePath);
  if (composeText === null) return [finding('no-sandbox', { file: composePath, key: '', message: 'This project has no sandbox of ours.' })];
  const files: YamlFile[] = [parseYamlFile(composePath, composeText)];
  const servicesText = read(`${dir}/${SERVICES_COMPOSE_FILE}`);
  if (servicesText !== null) files.push(parseYamlFile(`${dir}/${SERVICES_COMPOSE_FILE}`, servicesText));
  const sharedText = read(SHARED_COMPOSE_FILE);
  const findings = [
    ...auditCompose(files, projectRoot, host),
    ...auditDockerfile(`${dir}/${DOCKERFILE}`, read(`${dir}/${DOCKERFILE}`)),
    ...auditDevcontainer(`${dir}/${DEVCONTAINER_JSON}`, read(`${dir}/${DEVCONTAINER_JSON}`), composePath),
    ...(sharedText === null ? [] : auditStack([parseYamlFile(SHARED_COMPOSE_FILE, sharedText)], 'shared', posix.dirname(SHARED_COMPOSE_FILE), host)),
  ];
  return sortFindings(findings);
}

/**
 * The stack rules over compose files as written: merged, interpolated the way up-worktree's
 * `.env` would (the workspace and git dir as relative paths from the files' folder, so that a
 * path that climbs out of the workspace says so), each finding at its file and line.
 */
function auditStack(files: YamlFile[], kind: StackContext['kind'], folder: string, host: AuditHost, merged = mergeFiles(files)): Finding[] {
  const root = host.workspaceRoot ?? PLACEHOLDER_ROOT;
  const baseDir = posix.join(root, folder);
  const toRoot = posix.relative(baseDir, root) || '.';
  const variables = { DEVSEC_WORKSPACE: toRoot, DEVSEC_GIT_COMMON_DIR: `${toRoot}/.git`, HOME: '~', DEVSEC_DOCKER_GID: '${DEVSEC_DOCKER_GID}' };
  const context: StackContext = {
    kind,
    composeFile: files[0].path,
    workspaceRoot: root,
    gitCommonDir: posix.join(root, '.git'),
    devcontainerDir: kind === 'worktree' ? baseDir : undefined,
    homeDir: host.homeDir ?? PLACEHOLDER_HOME,
    baseDir,
    workspacePlaceholder: host.workspaceRoot === undefined,
  };
  return checkStack(interpolateModel(merged.model, variables), context).map(({ at, ...found }) => ({ ...found, ...merged.locate(at ?? found.key.split('.')) }));
}

type Fields = { key: string; message: string; service?: string; fix?: string };

/** The worktree stack: the stack rules, and what only a reading of our generated files shows. */
function auditCompose(files: YamlFile[], projectRoot: string, host: AuditHost): Finding[] {
  const merged: MergedFiles = mergeFiles(files);
  const { model, locate } = merged;
  const findings: Finding[] = auditStack(files, 'worktree', `${projectRoot}/${DEVCONTAINER_DIR}`, host, merged);
  const add = (rule: RuleId, fields: Fields) => findings.push(finding(rule, { ...fields, ...locate(fields.key.split('.')) }));
  // What is missing is missing from the main file, which the generator writes.
  const addMissing = (rule: RuleId, fields: Fields) =>
    findings.push(finding(rule, { ...fields, file: files[0].path, line: mergeFiles([files[0]]).locate(fields.key.split('.')).line }));

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
    // git's own files and node_modules: the stack rules judge the mounts that reach them (rules/workspace-mounts.ts).
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
  const lineOfKey = (key: string) => jsoncPropertyLine(text, [key]);
  const findings: Finding[] = checkSandbox({ composeFile: composePath, compose: { services: {} }, devcontainerFile: path, devcontainer: config }).map(
    (found) => ({ ...found, line: lineOfKey(found.key) }),
  );
  const add = (rule: RuleId, key: string, message: string, fix?: string) =>
    findings.push(finding(rule, { file: path, line: lineOfKey(key), key, message, fix }));
  const runArgs = Array.isArray(config.runArgs) ? config.runArgs.join(' ') : '';
  if (/--privileged|--cap-add|(docker|podman)\.sock|--pid[= ]host|--network[= ]host/.test(runArgs))
    add('devcontainer-escape', 'runArgs', `runArgs asks for a way out: ${runArgs}`);
  if (Array.isArray(config.capAdd) && config.capAdd.length > 0) add('dangerous-capability', 'capAdd', `capAdd: ${config.capAdd.join(', ')}`, 'Remove capAdd.');
  // Any engine's socket (sandbox/engines.ts), by the name every one of them ends in.
  if (/(docker|podman)\.sock/.test(JSON.stringify(config.mounts ?? [])))
    add('socket-mount', 'mounts', "devcontainer.json mounts a container engine's socket.", 'Remove the mount; use the proxy.');
  return findings;
}
