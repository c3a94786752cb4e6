/**
 * What each preset needs: image, port, where its data lives, how to ask it whether it is
 * healthy, and the connection variable a dev container gets. `password` is either a literal
 * the user passed or a `${DEVSEC_…_PASSWORD}` reference that up-shared fills in.
 */
export interface PresetInput {
  name: string;
  database: string;
  /** As compose should read it (a `${VAR}` reference, or a literal with `$` escaped). */
  password: string;
  /** As a URL should carry it (percent-encoded literal, or the same reference). */
  urlPassword: string;
}

export interface Preset {
  image: string;
  port: number;
  dataPath?: string;
  environment?: (input: PresetInput) => Record<string, string>;
  healthcheck?: (input: PresetInput) => string[];
  connectionVariable?: string;
  connection?: (input: PresetInput, port: number) => string;
  /** The Debian 13 package of its command-line client, added to the wired dev containers. */
  client?: string;
  /** Why there is no client package, for the generator's output. */
  noClient?: string;
  /** The container's memory limit (compose `mem_limit`). */
  memLimit?: string;
}

/**
 * Capabilities of Docker's default set that none of the presets' entrypoints uses. Each official
 * image (and each stand-in, scripts/stand-in-images.sh, which follows them) starts as root, chowns
 * its data folder and steps down to its own user with gosu or setpriv: CHOWN, DAC_OVERRIDE,
 * FOWNER, SETUID and SETGID stay. Nothing binds a port below 1024, makes devices, chroots,
 * changes file capabilities, signals another user's process, or needs raw sockets. The gate
 * refuses any cap_add, so `cap_drop: [ALL]` with the five added back is not an option here.
 */
export const PRESET_CAP_DROP = ['AUDIT_WRITE', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETPCAP', 'SYS_CHROOT'];
/** A bound on the processes (a fork bomb from a tenant's query or script stays in it): connections are processes in Postgres. */
export const PRESET_PIDS_LIMIT = 512;

/** The hardening every preset but custom gets (an image of your own may need what these take away). */
export function presetHardening(preset: Preset): Record<string, unknown> {
  return {
    security_opt: ['no-new-privileges:true'],
    cap_drop: PRESET_CAP_DROP,
    pids_limit: PRESET_PIDS_LIMIT,
    ...(preset.memLimit ? { mem_limit: preset.memLimit } : {}),
  };
}

export const PRESETS: Record<'postgres' | 'redis' | 'mysql' | 'mongodb' | 'custom', Preset> = {
  postgres: {
    image: 'postgres:17',
    port: 5432,
    dataPath: '/var/lib/postgresql/data',
    environment: ({ password, database }) => ({ POSTGRES_PASSWORD: password, POSTGRES_DB: database }),
    healthcheck: ({ database }) => ['CMD', 'pg_isready', '-U', 'postgres', '-d', database],
    connectionVariable: 'DATABASE_URL',
    connection: ({ name, urlPassword, database }, port) => `postgresql://postgres:${urlPassword}@${name}:${port}/${database}`,
    client: 'postgresql-client',
    memLimit: '2g',
  },
  redis: {
    image: 'redis:7',
    port: 6379,
    dataPath: '/data',
    healthcheck: () => ['CMD', 'redis-cli', 'ping'],
    connectionVariable: 'REDIS_URL',
    connection: ({ name }, port) => `redis://${name}:${port}`,
    client: 'redis-tools',
    memLimit: '1g',
  },
  mysql: {
    image: 'mysql:8.4',
    port: 3306,
    dataPath: '/var/lib/mysql',
    environment: ({ password, database }) => ({ MYSQL_ROOT_PASSWORD: password, MYSQL_DATABASE: database }),
    healthcheck: () => ['CMD-SHELL', 'mysqladmin ping -h 127.0.0.1 -uroot -p"$$MYSQL_ROOT_PASSWORD" --silent'],
    connectionVariable: 'MYSQL_URL',
    connection: ({ name, urlPassword, database }, port) => `mysql://root:${urlPassword}@${name}:${port}/${database}`,
    client: 'default-mysql-client',
    memLimit: '2g',
  },
  mongodb: {
    image: 'mongo:8',
    port: 27017,
    dataPath: '/data/db',
    environment: ({ password }) => ({ MONGO_INITDB_ROOT_USERNAME: 'root', MONGO_INITDB_ROOT_PASSWORD: password }),
    healthcheck: () => ['CMD', 'mongosh', '--quiet', '--eval', "db.adminCommand('ping').ok"],
    connectionVariable: 'MONGODB_URL',
    connection: ({ name, urlPassword, database }, port) => `mongodb://root:${urlPassword}@${name}:${port}/${database}?authSource=admin`,
    noClient:
      'Debian 13 has no package for mongosh, so no client was added to the dev containers. ' +
      'Use your driver from the app, or add mongosh to the workspace (npm install -D mongosh, then npx mongosh "$MONGODB_URL").',
    memLimit: '2g',
  },
  custom: { image: '', port: 0 },
};

export type PresetName = keyof typeof PRESETS;

/** Presets whose data lives on a volume and which need a password. */
export const needsPassword = (preset: PresetName) => preset === 'postgres' || preset === 'mysql' || preset === 'mongodb';
