// Part of the live probe (see base.js): the user, its privileges and credentials, VS Code channels, writable paths. Uses base.js's modules and helpers.

/* global fs, path, spawnSync, home, input */
/* exported privilegeTools, processStatus, credentials, vscodeChannels, writability */

/** sudo and its kin, where they are and whether they work without a password. */
function privilegeTools() {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin']);
  const tools = [];
  for (const name of ['sudo', 'doas', 'pkexec']) {
    const where = [...new Set(dirs)].map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
    if (!where) continue;
    const stat = fs.statSync(where);
    const setuidRoot = (stat.mode & 0o4000) !== 0 && stat.uid === 0;
    const works = name === 'sudo' ? spawnSync(where, ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0 : false;
    tools.push({ name, path: where, setuidRoot, works });
  }
  return tools;
}

function processStatus() {
  const status = fs.readFileSync('/proc/self/status', 'utf-8');
  const field = (/** @type {string} */ name) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
  return { capEff: field('CapEff'), noNewPrivs: field('NoNewPrivs') };
}

function credentials() {
  const files = input.credentialPaths
    .map((name) => path.join(home, name))
    .filter((file) => {
      try {
        const stat = fs.statSync(file);
        return stat.isFile() ? stat.size > 0 : fs.readdirSync(file).length > 0;
      } catch {
        return false;
      }
    });
  const git = spawnSync('git', ['config', '--show-origin', '--get-regexp', '^credential\\.'], { cwd: input.workspaceRoot, encoding: 'utf-8', timeout: 5000 });
  const helpers = String(git.stdout ?? '')
    .split('\n')
    .filter((line) => /\bcredential\.(.+\.)?helper\s/.test(line))
    .map((line) => line.trim());
  const env = Object.keys(process.env).filter((name) =>
    /^(SSH_AUTH_SOCK|GIT_ASKPASS|SSH_ASKPASS|VSCODE_GIT_ASKPASS_MAIN|GH_TOKEN|GITHUB_TOKEN|GITLAB_TOKEN|NPM_TOKEN|NODE_AUTH_TOKEN|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|GOOGLE_APPLICATION_CREDENTIALS|DOCKER_AUTH_CONFIG)$/.test(
      name,
    ),
  );
  const sshAgent = process.env.SSH_AUTH_SOCK ? { path: process.env.SSH_AUTH_SOCK, exists: fs.existsSync(process.env.SSH_AUTH_SOCK) } : undefined;
  return { files, helpers, env, sshAgent };
}

/**
 * What VS Code's Dev Containers extension forwards to the host, as an agent would find it: the
 * environment of this user's other processes (VS Code's server and its terminals), and a copied
 * ~/.gitconfig whose credential helper asks VS Code on the host. (Its sockets are in `sockets`.)
 */
function vscodeChannels() {
  const CHANNEL =
    /^(SSH_AUTH_SOCK|VSCODE_IPC_HOOK_CLI|VSCODE_GIT_IPC_HANDLE|VSCODE_GIT_ASKPASS_MAIN|GIT_ASKPASS|REMOTE_CONTAINERS_IPC|REMOTE_CONTAINERS_SOCKETS|BROWSER)=(.*)$/;
  /** @type {Array<{ pid: number, names: string[] }>} */
  const processes = [];
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry) && Number(entry) !== process.pid)) {
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf-8');
    } catch {
      continue; // another user's process, or gone
    }
    const names = environ
      .split('\0')
      .map((entry) => CHANNEL.exec(entry))
      .filter((match) => match && match[2] !== '')
      .map((match) => /** @type {RegExpExecArray} */ (match)[1]);
    if (names.length > 0) processes.push({ pid: Number(pid), names: [...new Set(names)] });
  }
  /** @type {string[]} */
  const gitconfigHelpers = [];
  try {
    const text = fs.readFileSync(path.join(home, '.gitconfig'), 'utf-8');
    for (const line of text.split('\n')) if (/^\s*helper\s*=/.test(line)) gitconfigHelpers.push(line.trim());
  } catch {
    // no ~/.gitconfig
  }
  return { processes, gitconfigHelpers };
}

/** Can this user change the path? A directory gets a real file (removed at once); a file gets access(W_OK). */
function writability() {
  return input.writable.map((target) => {
    try {
      if (fs.statSync(target).isDirectory()) {
        const probe = path.join(target, `.devsec-audit-${process.pid}`);
        fs.writeFileSync(probe, '', { flag: 'wx' });
        fs.unlinkSync(probe);
      } else {
        fs.accessSync(target, fs.constants.W_OK);
      }
      return { path: target, writable: true };
    } catch (error) {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      return { path: target, writable: false, missing: code === 'ENOENT', error: code };
    }
  });
}
