export interface LocalhostProxyGeneratorSchema {
  project: string;
  ports?: Array<number | string> | number | string;
  target?: string;
  ipv6?: boolean;
  skipFormat?: boolean;
}
