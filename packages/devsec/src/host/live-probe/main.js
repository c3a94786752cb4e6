// Part of the live probe (see base.js): what it runs, and the one JSON line it prints. Uses base.js's modules and helpers.

/* global fs, os, input, probeDockerEndpoint, dockerHostEndpoint, findSockets, network, privilegeTools, processStatus, credentials, vscodeChannels, writability, egress */

async function main() {
  const endpoints = [];
  const dockerHost = dockerHostEndpoint();
  if (dockerHost) endpoints.push(await probeDockerEndpoint(`DOCKER_HOST=${process.env.DOCKER_HOST}`, dockerHost));
  const sockets = [];
  for (const socketPath of findSockets()) {
    const probed = await probeDockerEndpoint(socketPath, { socketPath });
    sockets.push({ path: socketPath, docker: probed.docker, error: probed.ping.error });
    if (probed.docker) endpoints.push(probed);
  }
  const observations = {
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    user: os.userInfo().username,
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
  };
  // Exit once written: a lookup still waiting on a silent resolver must not hold the audit.
  process.stdout.write(`${JSON.stringify(observations)}\n`, () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`devsec live probe failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
