// Part of the live probe (see base.js): the agent, its privileges and credentials, VS Code channels, writable paths. Uses base.js's modules and helpers.
// The probe runs as another uid than the agent's: each check says why what it reports is still the agent's.

/* global fs, path, spawnSync, agent, home, agentMay, readOnlyMount, input */
/* exported privilegeTools, processStatus, credentials, vscodeChannels, writability */

/**
 * sudo and its kin, where they are and whether they are setuid root. Whether sudo lets the agent
 * in without a password cannot be tried from another uid (its rules are root's to read); a
 * setuid root tool is reported whatever its rules say, and no-new-privileges (the agent's, from
 * /proc/1/status) is what stops it today. PATH is the container's (every exec gets the same).
 */
function privilegeTools() {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin']);
  const tools = [];
  for (const name of ['sudo', 'doas', 'pkexec']) {
    const where = [...new Set(dirs)].map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
    if (!where) continue;
    const stat = fs.statSync(where);
    tools.push({ name, path: where, setuidRoot: (stat.mode & 0o4000) !== 0 && stat.uid === 0 });
  }
  return tools;
}

/** The agent's capabilities and no_new_privs: the container's first process's, as the kernel reports them (base.js). */
function processStatus() {
  return { capEff: agent.capEff, noNewPrivs: agent.noNewPrivs };
}

/**
 * Credentials the agent can reach: files in its home (stat and list as data: a folder the probe's
 * uid cannot list, but the agent could, counts as holding some), git's credential helpers (git
 * reads the agent's config files: HOME is the agent's, and safe.directory lets another uid read
 * the repository's config, which `git config` only reads), and the container's environment
 * (every exec gets Config.Env; what the agent exports in its own shells it holds anyway).
 */
function credentials() {
  const files = input.credentialPaths
    .map((name) => path.join(home, name))
    .filter((file) => {
      let stat;
      try {
        stat = fs.statSync(file);
      } catch {
        return false;
      }
      if (stat.isFile()) return stat.size > 0;
      try {
        return fs.readdirSync(file).length > 0;
      } catch {
        return agentMay(stat, 4);
      }
    });
  const git = spawnSync('git', ['config', '--show-origin', '--get-regexp', '^credential\\.'], {
    cwd: input.workspaceRoot,
    encoding: 'utf-8',
    timeout: 5000,
    env: { ...process.env, HOME: home, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' },
  });
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
 * What VS Code's Dev Containers extension forwards to the host, as an agent would find it: VS
 * Code's server among the processes (its terminals and extensions carry SSH_AUTH_SOCK, git's
 * askpass and IPC handles in their environment; another uid cannot read an environment, but
 * anyone may read a command line), and a copied ~/.gitconfig whose credential helper asks VS
 * Code on the host. (Its sockets are in `sockets`.)
 */
function vscodeChannels() {
  const SERVER = /\.vscode-server|vscode-remote-containers|\.vscode-remote/;
  /** @type {Array<{ pid: number, command: string }>} */
  const processes = [];
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry) && Number(entry) !== process.pid)) {
    let command;
    try {
      command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf-8').split('\0').join(' ').trim();
    } catch {
      continue; // gone
    }
    if (SERVER.test(command)) processes.push({ pid: Number(pid), command: command.slice(0, 200) });
  }
  /** @type {string[]} */
  const gitconfigHelpers = [];
  try {
    const text = fs.readFileSync(path.join(home, '.gitconfig'), 'utf-8');
    for (const line of text.split('\n')) if (/^\s*helper\s*=/.test(line)) gitconfigHelpers.push(line.trim());
  } catch {
    // no ~/.gitconfig (or one only the agent may read: git's own check above reads it as well)
  }
  return { processes, gitconfigHelpers };
}

/**
 * Can the agent change the path? Reasoned, not tried (the probe's uid is not the agent's): not
 * when its mount is read-only (the mount table, EROFS), else as its owner, group and mode allow
 * the agent (a folder: write and search, to make a file in it).
 */
function writability() {
  return input.writable.map((target) => {
    // The mount table first: it answers for a path the probe's uid may not even stat (a workspace or a home of mode 0700).
    if (readOnlyMount(target)) return { path: target, writable: false, error: 'EROFS' };
    let stat;
    try {
      stat = fs.statSync(target);
    } catch (error) {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      // Hidden from the probe, on a writable mount, below a folder the agent may search (its own): the agent's to write.
      if (code === 'EACCES') return { path: target, writable: agentReaches(target), error: code };
      return { path: target, writable: false, missing: code === 'ENOENT', error: code };
    }
    const writable = stat.isDirectory() ? agentMay(stat, 2) && agentMay(stat, 1) : agentMay(stat, 2);
    return writable ? { path: target, writable: true } : { path: target, writable: false, error: 'EACCES' };
  });
}

/** Whether the nearest folder above `target` the probe may stat is one the agent may search: what lies below is then the agent's to reach. @param {string} target */
function agentReaches(target) {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    try {
      return agentMay(fs.statSync(dir), 1);
    } catch {
      if (dir === path.dirname(dir)) return false;
    }
  }
}
