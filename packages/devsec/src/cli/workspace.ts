/**
 * Which workspace and which sandbox `devsec` acts on — found from files, without Nx: the
 * workspace is the one whose root node_modules holds this very program (the sandbox cannot
 * write it), and a project's sandbox is the `.devcontainer` whose compose file is ours and names
 * that project.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { findOurDevcontainers } from '../host/lifecycle';
import { SandboxError } from '../sandbox/errors';
import { hasMarker } from '../sandbox/managed-file';
import { visible } from '../sandbox/visible';
import { APP_SERVICE, COMPOSE_FILE, PROJECT_LABEL } from '../sandbox/vocabulary';
import { findWorkspaceRoot } from './surface-command';

/**
 * The workspace root: where this program is installed (`<root>/node_modules/@org/devsec`), else
 * — when it runs from elsewhere, as in this repository's own tests — the nearest folder from `cwd`
 * up holding nx.json and .git.
 */
export function workspaceRoot(cwd: string, installedAt = resolve(__dirname, '..', '..')): string {
  const nodeModules = dirname(dirname(installedAt));
  const installedRoot = dirname(nodeModules);
  if (basename(nodeModules) === 'node_modules' && existsSync(join(installedRoot, 'nx.json'))) return installedRoot;
  const found = findWorkspaceRoot(cwd);
  if (!found) throw new SandboxError(`no Nx workspace here: no folder from ${visible(cwd)} up holds nx.json and .git. Run devsec from the workspace root.`);
  return found;
}

export interface ProjectSandbox {
  project: string;
  projectRoot: string;
  /** From the workspace root. */
  composeFile: string;
}

/** Every sandbox of ours in the workspace, by project: from each marked compose file's own label. */
export function projectSandboxes(root: string): ProjectSandbox[] {
  return findOurDevcontainers(root).flatMap((dir) => {
    const composeFile = `${dir}/${COMPOSE_FILE}`;
    const text = readFileSync(join(root, composeFile), 'utf-8');
    if (!hasMarker(text)) return [];
    const project = (parse(text) as { services?: Record<string, { labels?: Record<string, string> } | null> } | null)?.services?.[APP_SERVICE]?.labels?.[
      PROJECT_LABEL
    ];
    return typeof project === 'string' && project !== '' ? [{ project, projectRoot: dirname(dir), composeFile }] : [];
  });
}

/** The sandbox of `project`, or an error listing the projects that have one. */
export function projectSandbox(root: string, project: string | undefined): ProjectSandbox {
  const sandboxes = projectSandboxes(root);
  const known = sandboxes.map((sandbox) => sandbox.project).sort();
  if (!project)
    throw new SandboxError(
      `name the project: ${known.length ? known.join(', ') : 'no project of this workspace has a sandbox yet (nx g @org/devsec:secure-devcontainer --project=<name>)'}.`,
    );
  const matches = sandboxes.filter((sandbox) => sandbox.project === project);
  if (matches.length > 1)
    throw new SandboxError(`${visible(project)} names more than one sandbox (${matches.map((m) => m.composeFile).join(', ')}): keep one.`);
  if (matches.length === 0) {
    throw new SandboxError(
      `no sandbox for the project "${visible(project)}". ${known.length ? `Projects with one: ${known.join(', ')}.` : 'No project of this workspace has one yet.'}`,
    );
  }
  return matches[0];
}
