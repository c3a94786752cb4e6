/**
 * `nx run <project>:audit`: a static review of a project's sandbox, the way a security reviewer
 * would read it — every policy-gate rule plus what only a file-by-file read shows — with the
 * file and line of each finding. Pure over a `read` function, so tests feed it a Tree.
 */
import { isMap, isSeq, LineCounter, parseDocument, Document } from 'yaml';
import { COMPOSE_FILE, DEVCONTAINER_DIR, DEVCONTAINER_JSON, DOCKERFILE, SERVICES_COMPOSE_FILE, SHARED_COMPOSE_FILE, WRITE_SWITCHES } from './constants';
import { parseJsonc } from './managed-file';
import { checkSandbox, ComposeModel, ComposeService, Finding } from './sandbox-rules';

export interface AuditFinding extends Finding {
  line?: number;
}

const CREDENTIAL_PATH = /(^|\/)(\.gnupg|\.aws|\.config\/gcloud|\.azure|\.kube|\.docker\/config\.json|\.git-credentials|\.netrc|\.config\/gh|\.npmrc)(\/|$)/;

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

const volumeText = (volume: unknown) => (typeof volume === 'string' ? volume : `${(volume as { source?: string }).source ?? ''}:${(volume as { target?: string }).target ?? ''}`);

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

export function auditSandbox(projectRoot: string, read: (path: string) => string | null): AuditFinding[] {
  const dir = `${projectRoot}/${DEVCONTAINER_DIR}`;
  const composePath = `${dir}/${COMPOSE_FILE}`;
  const composeText = read(composePath);
  if (composeText === null) {
    return [{ rule: 'no-sandbox', severity: 'high', file: composePath, key: '', message: 'This project has no sandbox of ours.', fix: 'Run nx g @org/devsec:secure-devcontainer --project=<project>.' }];
  }
  const files: Parsed[] = [parseYamlFile(composePath, composeText)];
  const servicesText = read(`${dir}/${SERVICES_COMPOSE_FILE}`);
  if (servicesText !== null) files.push(parseYamlFile(`${dir}/${SERVICES_COMPOSE_FILE}`, servicesText));

  // The model the stack runs with: services of every file, later files winning per key.
  const model: ComposeModel & { services: Record<string, ComposeService> } = { services: {}, networks: {} };
  for (const file of files) {
    const json = (file.doc.toJSON() ?? {}) as ComposeModel;
    for (const [name, service] of Object.entries(json.services ?? {})) {
      model.services[name] = mergeService(model.services[name], service ?? {});
    }
    Object.assign(model.networks!, json.networks ?? {});
  }

  const findings: AuditFinding[] = [];
  // A finding points at the last file that sets its key (an override wins), else the main file.
  const at = (key: string) => {
    const path = key.split('.');
    const file = [...files].reverse().find((candidate) => candidate.doc.hasIn(path)) ?? files[0];
    return { file: file.path, line: lineOf(file, path) };
  };
  const add = (finding: Omit<AuditFinding, 'file' | 'line'>) => findings.push({ ...finding, ...at(finding.key) });
  // What is missing is missing from the main file, which the generator writes.
  const addMissing = (finding: Omit<AuditFinding, 'file' | 'line'>) =>
    findings.push({ ...finding, file: files[0].path, line: lineOf(files[0], finding.key.split('.')) });

  for (const finding of checkSandbox({ composeFile: composePath, compose: model })) add(finding);

  const app = model.services.app;
  if (app) {
    const volumes = (app.volumes ?? []).map(volumeText);
    if (!volumes.some((v) => /\.devcontainer:ro$|^\.\/:.*:ro$/.test(v))) {
      addMissing({ rule: 'sandbox-writable', severity: 'high', service: 'app', key: 'services.app.volumes', message: "The sandbox's own definition (.devcontainer) is writable from inside: the agent can weaken the next start.", fix: 'Mount ./ at the .devcontainer path with :ro (the generator does).' });
    }
    if (!volumes.some((v) => /hooks(:[^:]+)?:ro$/.test(v))) {
      addMissing({ rule: 'git-hooks-writable', severity: 'high', service: 'app', key: 'services.app.volumes', message: ".git/hooks is writable from inside: a planted hook runs on the host's next git command.", fix: 'Mount <git common dir>/hooks (and /config) read-only (the generator does).' });
    }
    if (!volumes.some((v) => /^[A-Za-z0-9_.-]+:.*\/node_modules$/.test(v))) {
      addMissing({ rule: 'node-modules-shared', severity: 'high', service: 'app', key: 'services.app.volumes', message: "node_modules is shared with the host: a package's install script or a patched binary runs on the host later.", fix: 'Mount a named volume at <workspace>/node_modules.' });
    }
    if (app.user === 'root' || app.user === '0') {
      add({ rule: 'runs-as-root', severity: 'high', service: 'app', key: 'services.app.user', message: 'The dev container runs as root.', fix: 'Use user: node.' });
    }
  }
  for (const [name, service] of Object.entries(model.services)) {
    for (const volume of (service.volumes ?? []).map(volumeText)) {
      if (CREDENTIAL_PATH.test(volume.split(':')[0])) {
        add({ rule: 'credential-mount', severity: 'high', service: name, key: `services.${name}.volumes`, message: `${name} mounts credentials (${volume.split(':')[0]}).`, fix: 'Remove the mount: the sandbox holds no credentials of yours.' });
      }
    }
    if (typeof service.image === 'string' && !isPinned(service.image)) {
      add({ rule: 'unpinned-image', severity: 'medium', service: name, key: `services.${name}.image`, message: `${name} runs ${service.image} without a pinned tag.`, fix: 'Pin a tag (or a digest), e.g. postgres:17.' });
    }
  }
  const proxyEnv = model.services['docker-proxy']?.environment;
  const env = Array.isArray(proxyEnv) ? Object.fromEntries(proxyEnv.map((e) => e.split('='))) : proxyEnv ?? {};
  for (const name of WRITE_SWITCHES) {
    if (env[name] !== undefined && /^(1|true|yes|on)$/i.test(String(env[name]))) {
      add({ rule: 'proxy-write-switch', severity: 'high', service: 'docker-proxy', key: `services.docker-proxy.environment.${name}`, message: `The proxy is asked for write access (${name}=${env[name]}).`, fix: `Remove ${name}.` });
    }
  }

  const dockerfilePath = `${dir}/${DOCKERFILE}`;
  const dockerfile = read(dockerfilePath);
  if (dockerfile !== null) {
    const lines = dockerfile.split('\n');
    const sudoLine = lines.findIndex((line) => !line.trim().startsWith('#') && /\bsudo\b/.test(line));
    if (sudoLine !== -1) {
      findings.push({ rule: 'sudo', severity: 'high', file: dockerfilePath, line: sudoLine + 1, key: 'RUN', message: 'The image installs or uses sudo: the agent can become root.', fix: 'Remove sudo; install the tools the agent needs at build time.' });
    }
    const users = lines.map((line, index) => [/^\s*USER\s+(\S+)/i.exec(line)?.[1], index] as const).filter(([user]) => user);
    const last = users[users.length - 1];
    if (!last || /^(root|0)(:|$)/.test(String(last[0]))) {
      findings.push({ rule: 'runs-as-root', severity: 'high', file: dockerfilePath, line: last ? last[1] + 1 : 1, key: 'USER', message: 'The image ends as root.', fix: 'End with USER node.' });
    }
    lines.forEach((line, index) => {
      const from = /^\s*(?:ARG\s+BASE_IMAGE=|FROM\s+)(\S+)/i.exec(line)?.[1];
      if (from && !from.startsWith('$') && !isPinned(from)) {
        findings.push({ rule: 'unpinned-image', severity: 'medium', file: dockerfilePath, line: index + 1, key: 'FROM', message: `The image builds from ${from} without a pinned tag.`, fix: 'Pin a tag, e.g. node:24-trixie-slim.' });
      }
    });
  }

  const devcontainerPath = `${dir}/${DEVCONTAINER_JSON}`;
  const devcontainerText = read(devcontainerPath);
  if (devcontainerText !== null) {
    const config = parseJsonc<Record<string, unknown>>(devcontainerText);
    const lineOfKey = (key: string) => devcontainerText.split('\n').findIndex((line) => line.includes(`"${key}"`)) + 1 || undefined;
    for (const finding of checkSandbox({ composeFile: composePath, compose: { services: {} }, devcontainerFile: devcontainerPath, devcontainer: config })) {
      findings.push({ ...finding, line: lineOfKey(finding.key) });
    }
    const runArgs = Array.isArray(config.runArgs) ? config.runArgs.join(' ') : '';
    if (/--privileged|--cap-add|docker\.sock|--pid[= ]host|--network[= ]host/.test(runArgs)) {
      findings.push({ rule: 'devcontainer-escape', severity: 'high', file: devcontainerPath, line: lineOfKey('runArgs'), key: 'runArgs', message: `runArgs asks for a way out: ${runArgs}`, fix: 'Remove those runArgs.' });
    }
    if (Array.isArray(config.capAdd) && config.capAdd.length > 0) {
      findings.push({ rule: 'dangerous-capability', severity: 'high', file: devcontainerPath, line: lineOfKey('capAdd'), key: 'capAdd', message: `capAdd: ${config.capAdd.join(', ')}`, fix: 'Remove capAdd.' });
    }
    if (JSON.stringify(config.mounts ?? []).includes('docker.sock')) {
      findings.push({ rule: 'socket-mount', severity: 'high', file: devcontainerPath, line: lineOfKey('mounts'), key: 'mounts', message: 'devcontainer.json mounts the Docker socket.', fix: 'Remove the mount; use the proxy.' });
    }
  }

  const sharedText = read(SHARED_COMPOSE_FILE);
  if (sharedText !== null) {
    const shared = parseYamlFile(SHARED_COMPOSE_FILE, sharedText);
    const services = shared.doc.get('services');
    if (isMap(services)) {
      for (const item of services.items) {
        const name = String((item.key as { value?: unknown })?.value ?? item.key);
        const ports = shared.doc.getIn(['services', name, 'ports']);
        if (!isSeq(ports)) continue;
        for (const port of ports.toJSON() as unknown[]) {
          const text = typeof port === 'string' ? port : `${(port as { host_ip?: string }).host_ip ?? ''}:${(port as { published?: string }).published ?? ''}`;
          if (!/^(127\.0\.0\.1|\[::1\]|::1):/.test(text)) {
            findings.push({ rule: 'published-on-all-interfaces', severity: 'high', file: SHARED_COMPOSE_FILE, line: lineOf(shared, ['services', name, 'ports']), service: name, key: `services.${name}.ports`, message: `${name} publishes ${text} on every interface: anyone on your network reaches the database.`, fix: 'Publish on 127.0.0.1 only (e.g. 127.0.0.1:5432:5432).' });
          }
        }
      }
    }
  }
  return sortFindings(findings);
}

/** High first, then by file and line. */
export function sortFindings(findings: AuditFinding[]): AuditFinding[] {
  const rank = { high: 0, medium: 1 };
  return findings.sort((a, b) => rank[a.severity] - rank[b.severity] || a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
}

export function formatTable(findings: AuditFinding[]): string {
  if (findings.length === 0) return 'No findings: the sandbox holds on every rule checked.';
  const rows = findings.map((f) => [f.severity.toUpperCase(), `${f.file}${f.line ? `:${f.line}` : ''}`, `${f.rule}: ${f.message}`, f.fix]);
  const widths = [8, Math.max(...rows.map((r) => r[1].length), 9)];
  const header = `${'SEVERITY'.padEnd(widths[0])}  ${'FILE:LINE'.padEnd(widths[1])}  WHAT / FIX`;
  return [header, ...rows.map((r) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}\n${' '.repeat(widths[0] + widths[1] + 4)}fix: ${r[3]}`)].join('\n');
}

/** SARIF 2.1.0, for code-scanning in CI. */
export function formatSarif(findings: AuditFinding[]): string {
  const rules = [...new Set(findings.map((f) => f.rule))];
  return JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: '@org/devsec audit', informationUri: 'https://github.com/org/devsec', rules: rules.map((id) => ({ id })) } },
          results: findings.map((f) => ({
            ruleId: f.rule,
            level: f.severity === 'high' ? 'error' : 'warning',
            message: { text: `${f.message} Fix: ${f.fix}` },
            locations: [{ physicalLocation: { artifactLocation: { uri: f.file }, ...(f.line ? { region: { startLine: f.line } } : {}) } }],
          })),
        },
      ],
    },
    null,
    2,
  );
}
