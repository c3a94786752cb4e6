/**
 * Effective models as `docker compose config --format json` (Compose 2.26) prints them for what
 * the generators write — a worktree stack with an agent, a shared postgres and redis, a user
 * service and the localhost forwarder; and the shared services — with the workspace at
 * /home/dev/src/shop; environment, labels, healthchecks and null commands left out. Each call returns a fresh copy for a test to weaken.
 */
import type { StackContext } from '../rules/stack-rules';

export const WORKSPACE = '/home/dev/src/shop';

export const worktreeContext = (): StackContext => ({
  kind: 'worktree',
  composeFile: `${WORKSPACE}/apps/app/.devcontainer/docker-compose.yml`,
  workspaceRoot: WORKSPACE,
  gitCommonDir: `${WORKSPACE}/.git`,
  devcontainerDir: `${WORKSPACE}/apps/app/.devcontainer`,
  stateDir: '/home/dev/.local/state/devsec/stacks/app-shop-12345678',
  homeDir: '/home/dev',
  dockerSocket: '/var/run/docker.sock',
  dockerGid: 998,
});

export const sharedContext = (): StackContext => ({
  kind: 'shared',
  composeFile: `${WORKSPACE}/docker-compose.shared.yml`,
  workspaceRoot: WORKSPACE,
  stateDir: '/home/dev/.local/state/devsec/shared/shop',
  homeDir: '/home/dev',
  dockerSocket: '/var/run/docker.sock',
  dockerGid: 998,
});

/* eslint-disable @typescript-eslint/no-explicit-any */
export const effectiveWorktree = (): any => ({
  name: 'app-shop-12345678',
  networks: {
    sandbox: {
      name: 'app-shop-12345678_sandbox',
      ipam: {},
      internal: true,
      driver_opts: {
        'com.docker.network.bridge.inhibit_ipv4': 'true',
      },
    },
    shared: {
      name: 'dev',
      ipam: {},
      external: true,
    },
    egress: {
      name: 'app-shop-12345678_egress',
      ipam: {},
    },
  },
  services: {
    app: {
      build: {
        context: '/home/dev/src/shop/apps/app/.devcontainer',
        dockerfile: 'Dockerfile',
        args: {
          AGENT_NPM_PACKAGE: '@anthropic-ai/claude-code',
        },
      },
      depends_on: {
        'docker-proxy': {
          condition: 'service_healthy',
          required: true,
        },
      },
      init: true,
      networks: {
        sandbox: null,
        shared: null,
      },
      security_opt: ['no-new-privileges:true'],
      sysctls: {
        'net.ipv6.conf.lo.disable_ipv6': '0',
      },
      user: 'node',
      // The compose file's mounts, with docker-compose.worktree.yml's laid over them (Compose merges by target):
      // the sandbox's own git dir at .git; its config, alternates and the repository's hooks, info and objects read-only.
      volumes: [
        {
          type: 'bind',
          source: '/home/dev/src/shop',
          target: '/home/dev/src/shop',
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/.local/state/devsec/stacks/app-shop-12345678/git',
          target: '/home/dev/src/shop/.git',
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/.local/state/devsec/stacks/app-shop-12345678/git.host/config',
          target: '/home/dev/src/shop/.git/config',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/.local/state/devsec/stacks/app-shop-12345678/git.host/objects-info',
          target: '/home/dev/src/shop/.git/objects/info',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/.local/state/devsec/stacks/app-shop-12345678/git.host/empty',
          target: '/home/dev/src/shop/.git/refs/replace',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/.git/hooks',
          target: '/home/dev/src/shop/.git/hooks',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/.git/info',
          target: '/home/dev/src/shop/.git/info',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/.git/objects',
          target: '/devsec/repository-objects',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/apps/app/.devcontainer',
          target: '/home/dev/src/shop/apps/app/.devcontainer',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'volume',
          source: 'node_modules',
          target: '/home/dev/src/shop/node_modules',
          volume: {},
        },
        {
          type: 'volume',
          source: 'nx-state',
          target: '/home/dev/src/shop/.nx',
          volume: {},
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/node_modules',
          target: '/devsec/host-node_modules',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
        {
          type: 'volume',
          source: 'agent-config',
          target: '/home/node/.claude',
          volume: {},
        },
        {
          type: 'bind',
          source: '/home/dev/src/shop/docker-compose.shared.yml',
          target: '/home/dev/src/shop/docker-compose.shared.yml',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
      ],
      working_dir: '/home/dev/src/shop',
    },
    'egress-proxy': {
      build: {
        context: '/home/dev/src/shop/node_modules/@org/devsec-socket-proxy',
        dockerfile: 'Dockerfile',
        args: {
          BASE_IMAGE: 'node:24-trixie-slim',
        },
      },
      cap_drop: ['ALL'],
      networks: {
        sandbox: null,
        egress: null,
      },
      read_only: true,
      restart: 'unless-stopped',
      security_opt: ['no-new-privileges:true'],
    },
    'docker-proxy': {
      build: {
        context: '/home/dev/src/shop/node_modules/@org/devsec-socket-proxy',
        dockerfile: 'Dockerfile',
        args: {
          BASE_IMAGE: 'node:24-trixie-slim',
        },
      },
      cap_drop: ['ALL'],
      group_add: ['998'],
      networks: {
        sandbox: null,
      },
      read_only: true,
      restart: 'unless-stopped',
      security_opt: ['no-new-privileges:true'],
      volumes: [
        {
          type: 'bind',
          source: '/var/run/docker.sock',
          target: '/var/run/docker.sock',
          read_only: true,
          bind: {
            create_host_path: true,
          },
        },
      ],
    },
    'localhost-proxy': {
      build: {
        context: '/home/dev/src/shop/node_modules/@org/devsec-socket-proxy',
        dockerfile: 'Dockerfile',
        args: {
          BASE_IMAGE: 'node:24-trixie-slim',
        },
      },
      cap_drop: ['ALL'],
      depends_on: {
        app: {
          condition: 'service_started',
          required: true,
        },
      },
      network_mode: 'service:app',
      read_only: true,
      restart: 'unless-stopped',
      security_opt: ['no-new-privileges:true'],
    },
    web: {
      image: 'node:24-trixie-slim',
      networks: {
        sandbox: null,
      },
    },
  },
  volumes: {
    'agent-config': {
      name: 'app-shop-12345678_agent-config',
    },
    node_modules: {
      name: 'app-shop-12345678_node_modules',
    },
    'nx-state': {
      name: 'app-shop-12345678_nx-state',
    },
  },
});

export const effectiveShared = (): any => ({
  name: 'shop-shared',
  networks: {
    shared: {
      name: 'dev',
      ipam: {},
      external: true,
    },
  },
  services: {
    postgres: {
      image: 'postgres:17',
      networks: {
        shared: null,
      },
      ports: [
        {
          mode: 'ingress',
          host_ip: '127.0.0.1',
          target: 5432,
          published: '5432',
          protocol: 'tcp',
        },
      ],
      restart: 'unless-stopped',
      volumes: [
        {
          type: 'volume',
          source: 'postgres-data',
          target: '/var/lib/postgresql/data',
          volume: {},
        },
      ],
    },
    redis: {
      image: 'redis:7',
      networks: {
        shared: null,
      },
      restart: 'unless-stopped',
      volumes: [
        {
          type: 'volume',
          source: 'redis-data',
          target: '/data',
          volume: {},
        },
      ],
    },
  },
  volumes: {
    'postgres-data': {
      name: 'shop-shared_postgres-data',
    },
    'redis-data': {
      name: 'shop-shared_redis-data',
    },
  },
});
