import type { PresetName } from './presets';

export interface SharedServiceGeneratorSchema {
  name?: string;
  preset: PresetName;
  image?: string;
  port?: number;
  publish?: boolean;
  env?: string[] | string;
  projects?: string[] | string;
  database?: string;
  password?: string;
  seed?: 'template' | 'empty';
  infraProject?: string;
  noClient?: boolean;
  overwrite?: boolean;
  skipFormat?: boolean;
}
