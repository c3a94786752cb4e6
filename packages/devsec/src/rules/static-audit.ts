/**
 * `nx run <project>:audit`: a static review of a project's sandbox, the way a security reviewer
 * would read it — every policy-gate rule plus what only a file-by-file read shows — with the
 * file and line of each finding. Pure over a `read` function, so tests feed it a Tree.
 */
import { posix } from 'node:path';
import { ComposeVolume } from '../sandbox/compose-model';
import { DockerfileParser, From, Instruction, type Dockerfile } from 'dockerfile-ast';
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
  WORKSPACE_LABEL,
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
    // --workspace=clone, with no bind at all: the definition is not in the dev container to write.
    const clone = app.labels !== undefined && !Array.isArray(app.labels) && (app.labels as Record<string, unknown>)[WORKSPACE_LABEL] === 'clone';
    const binds = (app.volumes ?? []).some((v) => (typeof v === 'string' ? /^[/.~$]/.test(v) : v.type === 'bind' || /^[/.~$]/.test(v.source ?? '')));
    if (!(clone && !binds) && !volumes.some((v) => /\.devcontainer:ro$|^\.\/:.*:ro$/.test(v))) {
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
  if (env.WRITE_POLICY !== undefined && /^(1|true|yes|on)$/i.test(String(env.WRITE_POLICY))) {
    add('test-containers', {
      service: PROXY_SERVICE,
      key: `services.${PROXY_SERVICE}.environment.WRITE_POLICY`,
      message: `The agent may run containers of its own through ${PROXY_SERVICE} (WRITE_POLICY=1, pulls from ${String(env.ALLOW_REGISTRIES ?? 'docker.io')}).`,
    });
  }
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

/** The stages of a Dockerfile as Docker builds them: each FROM and the instructions after it. */
function dockerStages(dockerfile: Dockerfile): { from: From; instructions: Instruction[] }[] {
  const stages: { from: From; instructions: Instruction[] }[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction instanceof From) stages.push({ from: instruction, instructions: [] });
    else stages[stages.length - 1]?.instructions.push(instruction);
  }
  return stages;
}

/** An instruction's arguments as Docker reads them: continuations joined, ARG and ENV values expanded. */
const expanded = (instruction: Instruction) =>
  instruction
    .getExpandedArguments()
    .map((argument) => argument.getValue())
    .join(' ');

/** `root`, `0`, `0:…` (any number of zeros): the user a container runs as root with. */
const isRootUser = (user: string) => /^(root|0+)(:|$)/.test(user);

/**
 * The image's own Dockerfile, read by dockerfile-ast (line continuations, heredocs, ARG- and
 * ENV-expanded values, build stages as Docker reads them): sudo anywhere in an instruction, the
 * user the final stage ends as (following `FROM <earlier stage>`), and each base image's tag.
 */
export function auditDockerfile(path: string, text: string | null): Finding[] {
  if (text === null) return [];
  const findings: Finding[] = [];
  const dockerfile = DockerfileParser.parse(text);
  const lineOf = (instruction: Instruction) => instruction.getRange().start.line + 1;
  const sudo = dockerfile.getInstructions().find((instruction) => /\bsudo\b/.test(`${instruction.getArgumentsContent() ?? ''} ${expanded(instruction)}`));
  if (sudo) {
    findings.push(finding('sudo', { file: path, line: lineOf(sudo), key: 'RUN', message: 'The image installs or uses sudo: the agent can become root.' }));
  }
  const stages = dockerStages(dockerfile);
  /** The index of the last stage before `before` named `name` (Docker matches stage names case-insensitively), or -1. */
  const stageNamed = (name: string, before: number) => {
    for (let index = before - 1; index >= 0; index--) if (stages[index].from.getBuildStage()?.toLowerCase() === name.toLowerCase()) return index;
    return -1;
  };
  // The final stage's last USER; without one, the user of the stage it is built FROM, if that is one of ours.
  let user: Instruction | undefined;
  let at = stages.length - 1;
  for (const seen = new Set<number>(); at >= 0 && !seen.has(at);) {
    seen.add(at);
    user = stages[at].instructions.filter((instruction) => instruction.getKeyword() === 'USER').pop();
    if (user) break;
    at = stageNamed(stages[at].from.getExpandedArguments()[0]?.getValue() ?? '', at);
  }
  if (!user || isRootUser(expanded(user))) {
    const line = user ? lineOf(user) : stages.length ? lineOf(stages[stages.length - 1].from) : 1;
    findings.push(finding('runs-as-root', { file: path, line, key: 'USER', message: 'The image ends as root.', fix: 'End with USER node.' }));
  }
  stages.forEach(({ from }, index) => {
    const image = from
      .getExpandedArguments()
      .find((argument) => !argument.getValue().startsWith('--'))
      ?.getValue();
    if (!image || image.includes('$') || stageNamed(image, index) !== -1 || image === 'scratch' || isPinned(image)) return;
    findings.push(
      finding('unpinned-image', {
        file: path,
        line: lineOf(from),
        key: 'FROM',
        message: `The image builds from ${image} without a pinned tag.`,
        fix: 'Pin a tag, e.g. node:24-trixie-slim.',
      }),
    );
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
