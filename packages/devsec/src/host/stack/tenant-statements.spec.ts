import {
  mongoDropTenant,
  mongoEnsureTenant,
  mysqlDropTenant,
  mysqlEnsureTenant,
  mysqlIdent,
  mysqlLiteral,
  mysqlUrl,
  mysqlUser,
  pgCreateDatabase,
  pgEnsureRole,
  pgGiveDatabase,
  pgHandOver,
  pgIdent,
  pgLiteral,
  pgLockDatabases,
  postgresUrl,
  redisArg,
  redisEnsureTenant,
  tenantDatabase,
  tenantName,
} from './tenant-statements';

describe('tenant names', () => {
  it('come from the compose project: lower-case identifiers, stable, the hash kept when shortened', () => {
    expect(tenantName('app-main-1a2b3c4d')).toBe('app_main_1a2b3c4d');
    expect(tenantName('App-Main-1a2b3c4d')).toBe('app_main_1a2b3c4d');
    expect(tenantName('9app-x-00000000')).toBe('t_9app_x_00000000');
    const long = tenantName('a-very-long-project-name-here-x-a-long-folder-name-too-1a2b3c4d');
    expect(long).toMatch(/^[a-z][a-z0-9_]{0,39}$/);
    expect(long).toBe(tenantName('a-very-long-project-name-here-x-a-long-folder-name-too-1a2b3c4d'));
    expect(long).not.toBe(tenantName('a-very-long-project-name-here-x-a-long-folder-name-too-ffffffff'));
  });

  it('the database name stays within 63 bytes, the tenant whole', () => {
    expect(tenantDatabase('app', 'api_main_1a2b3c4d')).toBe('app_api_main_1a2b3c4d');
    const name = tenantDatabase('d'.repeat(63), 'x'.repeat(40));
    expect(name.length).toBe(63);
    expect(name.endsWith(`_${'x'.repeat(40)}`)).toBe(true);
    expect(() => tenantDatabase('app"; drop', 'x')).toThrow(/not a database name/);
    expect(() => tenantDatabase('app', 'Robert";--')).toThrow(/not a tenant name/);
  });
});

describe('Postgres statements', () => {
  it('quote identifiers and literals by the grammar', () => {
    expect(pgIdent('a"b')).toBe('"a""b"');
    expect(pgLiteral("it's")).toBe("'it''s'");
    expect(pgLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(() => pgIdent('a\0')).toThrow();
  });

  it('make a role with none of the administrator’s attributes, in no role, with its password', () => {
    const sql = pgEnsureRole('app_main_1a2b3c4d', 'pw-0123456789');
    expect(sql).toContain(`SELECT format('CREATE ROLE %I', 'app_main_1a2b3c4d') WHERE NOT EXISTS`);
    expect(sql).toContain(
      `ALTER ROLE "app_main_1a2b3c4d" WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT -1 PASSWORD 'pw-0123456789';`,
    );
    expect(sql).toContain("SELECT format('REVOKE %I FROM %I', r.rolname, 'app_main_1a2b3c4d')");
    expect(() => pgEnsureRole('t', "x' SUPERUSER --")).toThrow(/password/);
  });

  it('copy the shared database as the template, or start empty; lock who connects', () => {
    // The administrator's and closed to PUBLIC until handed over: the host connects to it as superuser for the hand-over.
    expect(pgCreateDatabase('t1', 'app_t1', 'app', 'template')).toBe(
      'CREATE DATABASE "app_t1" TEMPLATE "app";\nREVOKE ALL ON DATABASE "app_t1" FROM PUBLIC;\n',
    );
    expect(pgCreateDatabase('t1', 'app_t1', 'app', 'empty')).toBe('CREATE DATABASE "app_t1";\nREVOKE ALL ON DATABASE "app_t1" FROM PUBLIC;\n');
    expect(pgGiveDatabase('t1', 'app_t1')).toBe('ALTER DATABASE "app_t1" OWNER TO "t1";\n');
    expect(pgLockDatabases('t1', 'app_t1', 'app')).toBe(
      'REVOKE ALL ON DATABASE "app_t1" FROM PUBLIC;\nGRANT CONNECT, TEMPORARY ON DATABASE "app_t1" TO "t1";\nREVOKE CONNECT, TEMPORARY ON DATABASE "app" FROM PUBLIC;\n',
    );
    expect(pgHandOver('t1')).toMatch(/ALTER SCHEMA %I OWNER TO %I', r.nspname, 't1'/);
    // Whatever search_path the database was given, the hand-over calls nothing of the tenant's by name.
    expect(pgHandOver('t1').startsWith('SET search_path = pg_catalog, pg_temp;\n')).toBe(true);
    expect(postgresUrl('postgres', 5432, 't1', 'a+b/c', 'app_t1')).toBe('postgresql://t1:a%2Bb%2Fc@postgres:5432/app_t1');
  });
});

describe('Redis lines', () => {
  it('set the administrator’s password, and make the tenant afresh: its prefix only, no admin or dangerous command, no SCAN', () => {
    expect(redisEnsureTenant('t1', 'tenant-pw-1', 'admin-pw-1')).toBe(
      'ACL SETUSER default on resetpass >admin-pw-1\nACL SETUSER t1 reset on >tenant-pw-1 ~t1:* &t1:* +@all -@admin -@dangerous -scan -randomkey\n',
    );
    expect(redisArg('a b"c')).toBe('"a b\\"c"');
  });
});

describe('MySQL and MongoDB statements (MySQL run on the engine in shared-upgrade.docker.spec.ts; MongoDB unit-tested only)', () => {
  it('MySQL: all privileges on its own schema, nothing global, no grant option', () => {
    const sql = mysqlEnsureTenant('t1', 'tenant-pw-1', 'app_t1');
    expect(sql).toContain("CREATE USER IF NOT EXISTS 't1'@'%' IDENTIFIED BY 'tenant-pw-1';");
    expect(sql).toContain("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 't1'@'%';");
    // `_` is a wildcard in a database-level GRANT: escaped, the grant covers app_t1 and no appXt1 beside it.
    expect(sql).toContain("GRANT ALL PRIVILEGES ON `app\\_t1`.* TO 't1'@'%';");
    expect(sql).toContain('CREATE DATABASE IF NOT EXISTS `app_t1`;');
    expect(sql).not.toMatch(/FILE|SUPER|PROCESS|WITH GRANT OPTION|\*\.\*/);
    expect(mysqlDropTenant('t1', 'app_t1')).toBe("DROP DATABASE IF EXISTS `app_t1`;\nDROP USER IF EXISTS 't1'@'%';\n");
    expect(mysqlIdent('a`b')).toBe('`a``b`');
    expect(() => mysqlLiteral("x'")).toThrow();
    expect(mysqlUrl('mysql', 3306, 't1', 'a+b/c', 'app_t1')).toBe('mysql://t1:a%2Bb%2Fc@mysql:3306/app_t1');
  });

  it('MySQL: a user name within MySQL 8’s 32 characters, the hash of the whole kept when shortened', () => {
    expect(mysqlUser('app_main_1a2b3c4d')).toBe('app_main_1a2b3c4d');
    const long = mysqlUser('a'.repeat(31) + '_1a2b3c4d');
    expect(long.length).toBeLessThanOrEqual(32);
    expect(long).toMatch(/^a{23}_[0-9a-f]{8}$/);
    expect(long).not.toBe(mysqlUser('a'.repeat(31) + '_ffffffff'));
    expect(() => mysqlUser("t'1")).toThrow(/not a tenant name/);
  });

  it('MongoDB: readWrite and dbAdmin on its own database only, values as JSON', () => {
    const script = mongoEnsureTenant('t1', 'tenant-pw-1', 'app_t1');
    expect(script).toContain(`db.getSiblingDB("app_t1")`);
    expect(script).toContain(`roles: [{ role: 'readWrite', db: "app_t1" }, { role: 'dbAdmin', db: "app_t1" }]`);
    expect(script).not.toMatch(/root|admin"/);
    expect(mongoDropTenant('t1', 'app_t1')).toBe(
      'const tenantDb = db.getSiblingDB("app_t1");\nif (tenantDb.getUser("t1")) tenantDb.dropUser("t1");\ntenantDb.dropDatabase();\n',
    );
    expect(() => mongoEnsureTenant('t1', 'pw"});db.dropDatabase();//', 'app_t1')).toThrow(/password/);
  });
});
