/** An address the live probe tries from inside the dev container (live-findings.ts, live-egress.ts). */
export interface ProbeTarget {
  host: string;
  port: number;
  label: string;
}
