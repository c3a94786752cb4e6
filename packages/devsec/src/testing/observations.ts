import type { Observations } from '../rules/live-findings';

/** What the live probe answers when it sees nothing to report: every field, none with an entry. */
export const NOTHING_OBSERVED: Observations = {
  uid: 1000,
  user: 'node',
  probeUid: 65534,
  status: {},
  privilegeTools: [],
  credentials: { files: [], helpers: [], env: [] },
  writable: [],
  endpoints: [],
  sockets: [],
  network: [],
  hostMarkersSeen: [],
  vscode: { processes: [], gitconfigHelpers: [] },
  unsearched: [],
};
