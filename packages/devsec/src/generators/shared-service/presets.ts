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
  },
  redis: {
    image: 'redis:7',
    port: 6379,
    dataPath: '/data',
    healthcheck: () => ['CMD', 'redis-cli', 'ping'],
    connectionVariable: 'REDIS_URL',
    connection: ({ name }, port) => `redis://${name}:${port}`,
    client: 'redis-tools',
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
  },
  custom: { image: '', port: 0 },
};

export type PresetName = keyof typeof PRESETS;

/** Presets whose data lives on a volume and which need a password. */
export const needsPassword = (preset: PresetName) => preset === 'postgres' || preset === 'mysql' || preset === 'mongodb';
