// Part of the live probe (see base.js): what it runs, and the one JSON document it prints (the host refuses anything else). Uses base.js's modules and helpers.

/* global fs, agent, input, unsearched, probeDockerEndpoint, dockerHostEndpoint, findSockets, network, privilegeTools, processStatus, credentials, vscodeChannels, writability, egress */

async function main() {
  // The agent's home, looked at from the agent's own session (live-audit.ts: only ever adds findings).
  if (input.only === 'home') {
    const { files, helpers } = credentials();
    const { gitconfigHelpers } = vscodeChannels();
    process.stdout.write(`${JSON.stringify({ files, helpers, gitconfigHelpers })}\n`, () => process.exit(0));
    return;
  }
  const endpoints = [];
  const dockerHost = dockerHostEndpoint();
  if (dockerHost) endpoints.push(await probeDockerEndpoint(`DOCKER_HOST=${process.env.DOCKER_HOST}`, dockerHost));
  const sockets = [];
  for (const { path: socketPath, agentCanOpen } of findSockets()) {
    // Asked as the probe's uid: a socket only the agent may open answers EACCES here (agentCanOpen says the rest).
    const probed = await probeDockerEndpoint(socketPath, { socketPath });
    sockets.push({ path: socketPath, docker: probed.docker, agentCanOpen, ...(probed.ping.error ? { error: probed.ping.error } : {}) });
    if (probed.docker) endpoints.push(probed);
  }
  const observations = {
    // The agent's identity (base.js: the kernel's, for the container's first process) and the probe's own uid, which must differ.
    uid: agent.uid,
    gid: agent.gid,
    user: agent.user,
    probeUid: process.getuid?.(),
    status: processStatus(),
    privilegeTools: privilegeTools(),
    credentials: credentials(),
    writable: writability(),
    // The host placed these in its own node_modules and .nx; seeing one means the folder is the host's.
    hostMarkersSeen: (input.hostMarkers ?? []).filter((marker) => fs.existsSync(marker)),
    vscode: vscodeChannels(),
    endpoints,
    sockets,
    network: await network(),
    egress: await egress(),
    unsearched: [...new Set(unsearched)].slice(0, 50),
  };
  // Exit once written: a lookup still waiting on a silent resolver must not hold the audit.
  process.stdout.write(`${JSON.stringify(observations)}\n`, () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`devsec live probe failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
