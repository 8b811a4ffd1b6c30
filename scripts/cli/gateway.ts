/**
 * `bwc gateway`: runs the gateway; `bwc gateway user add|list|access|disable|enable|password`,
 * `bwc gateway token create|list|revoke` and `bwc gateway device add|token` manage people, their
 * API tokens and devices from the machine the gateway runs on (the API and the dashboard's Admin
 * page do the same for signed-in admins and operators, with the same rules, user-rules.ts); `bwc gateway config-reference` prints the configuration reference generated
 * from the schema.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadGatewayConfig, resolvedPaths, ConfigError, GatewayConfigSchema, GATEWAY_ENV, type GatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/gateway.js';
import { openGatewayDb } from '../../gateway/store/open.js';
import { Auth } from '../../gateway/api/auth.js';
import { generatePassword } from '../../gateway/api/passwords.js';
import { ROLES } from '../../gateway/api/roles.js';
import { describeProblems, newUserProblems } from '../../gateway/api/user-rules.js';
import { AuditLog } from '../../gateway/audit/log.js';
import { Alerts } from '../../gateway/fleet/alerts.js';
import { Fleet, FleetError } from '../../gateway/fleet/registry.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { isWireError } from '../../proto/errors.js';
import { CliError } from './common.js';
import { registerConfigReference } from './config-reference.js';

interface Common {
  config?: string;
  dataDir?: string;
}

/** A port given on the command line, checked here: the options bypass the configuration schema. */
function port(option: string, value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new CliError(`${option} must be a port number from 0 to 65535, got "${value}"`);
  return Number(value);
}

function config(o: Common & { httpPort?: string; mqttPort?: string }): GatewayConfig {
  try {
    const c = loadGatewayConfig(o.config);
    if (o.dataDir) c.dataDir = o.dataDir;
    if (o.httpPort !== undefined) c.http.port = port('--http-port', o.httpPort);
    if (o.mqttPort !== undefined) c.mqtt.embedded.port = port('--mqtt-port', o.mqttPort);
    return c;
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
}

async function withDb<T>(o: Common, fn: (c: GatewayConfig, db: Awaited<ReturnType<typeof openGatewayDb>>) => Promise<T>): Promise<T> {
  const c = config(o);
  const db = await openGatewayDb(resolvedPaths(c).db).catch((e: Error) => {
    throw new CliError(e.message);
  });
  try {
    return await fn(c, db);
  } finally {
    await db.close();
  }
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  } catch {
    return '';
  }
}

const collect = (v: string, p: string[]) => [...p, v];

export function registerGateway(program: Command): void {
  const gw = program.command('gateway').description('The gateway: verified ingest, fleet, alerts and the HTTP API.');
  const withCommon = (c: Command) =>
    c
      .option('--config <file>', 'YAML or JSON configuration (gateway/README.md lists every setting)')
      .option('--data-dir <dir>', 'data directory (database, clip store, gateway key)');

  withCommon(gw.command('run', { isDefault: true }).description('Run the gateway (the default).'))
    .option('--http-port <n>', 'HTTP API port (0: any free port)')
    .option('--mqtt-port <n>', 'embedded MQTT broker port, when no mqtt.url is set (0: any free port)')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc gateway --data-dir /var/lib/bwc-gateway\n  $ BWC_GATEWAY_DB_URL=postgres://bwc@db/bwc bwc gateway --config gateway.yaml\n',
    )
    .action(async (o: Common & { httpPort?: string; mqttPort?: string }) => {
      const gw = await startGateway({ config: config(o) }).catch((e: Error) => {
        throw new CliError(e.message);
      });
      process.stdout.write(
        `${JSON.stringify({ gatewayId: gw.config.gatewayId, fleet: gw.config.fleet, http: gw.httpPort, mqtt: gw.mqttUrl, keyId: gw.signer.keyId })}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await gw.stop();
    });

  const user = gw.command('user').description('People who sign in to the gateway.');
  withCommon(user.command('add <username>').description('Create a user; the password is read from stdin.'))
    .requiredOption('--role <role>', `a role (repeatable): ${ROLES.join(', ')}`, collect, [])
    .option('--office <code>', 'an office the user acts for (repeatable)', collect, [])
    .option('--by <name>', 'who creates it (recorded in the audit log)', process.env.USER ?? 'cli')
    .addHelpText('after', '\nExample:\n  $ printf %s "$ADMIN_PASSWORD" | bwc gateway user add alice --role admin\n')
    .action(async (username: string, o: Common & { role: string[]; office: string[]; by: string }) => {
      const password = readStdin();
      // The same rules, and the same words, as the admin API and the dashboard (gateway/api/user-rules.ts).
      const problems = newUserProblems({ username, password, roles: o.role, offices: o.office });
      if (problems.length > 0) throw new CliError(describeProblems(problems));
      await withDb(o, async (c, db) => {
        const audit = new AuditLog({ db, gatewayId: c.gatewayId, fleet: c.fleet });
        const auth = new Auth({ db, audit: { log: audit, actor: audit.actor } });
        try {
          await auth.createUser({ username, password, roles: o.role, offices: o.office, personId: null }, o.by);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
      });
      process.stdout.write(`user ${username} created with roles ${o.role.join(', ')}\n`);
    });

  /** Auth on the configured database, recording in its audit log; `HttpError`s become one-line CLI errors. */
  const withAuth = <T>(o: Common, fn: (auth: Auth) => Promise<T>): Promise<T> =>
    withDb(o, async (c, db) => {
      const audit = new AuditLog({ db, gatewayId: c.gatewayId, fleet: c.fleet });
      try {
        return await fn(new Auth({ db, audit: { log: audit, actor: audit.actor } }));
      } catch (e) {
        throw e instanceof CliError ? e : new CliError((e as Error).message);
      }
    });
  const by = (c: Command) => c.option('--by <name>', 'who makes the change (recorded in the audit log)', process.env.USER ?? 'cli');

  withCommon(user.command('list').description('List users: one JSON line each (never a password).'))
    .addHelpText('after', '\nExample:\n  $ bwc gateway user list --config /etc/bwc/gateway.yaml\n')
    .action(async (o: Common) => {
      const users = await withAuth(o, (auth) => auth.listUsers());
      for (const u of users) process.stdout.write(`${JSON.stringify(u)}\n`);
    });

  by(withCommon(user.command('access <username>').description("Replace a user's roles and offices (the same rules as the Admin page).")))
    .requiredOption('--role <role>', `a role (repeatable): ${ROLES.join(', ')}`, collect, [])
    .option('--office <code>', 'an office the user acts for (repeatable)', collect, [])
    .addHelpText('after', '\nExample:\n  $ bwc gateway user access olga --role supervisor --office SEA --office PDX\n')
    .action(async (username: string, o: Common & { role: string[]; office: string[]; by: string }) => {
      const u = await withAuth(o, (auth) => auth.setAccess(username, { roles: o.role, offices: o.office }, o.by));
      process.stdout.write(`user ${u.username} now has roles ${u.roles.join(', ')}${u.offices.length ? ` and offices ${u.offices.join(', ')}` : ''}\n`);
    });

  for (const action of ['disable', 'enable'] as const) {
    by(
      withCommon(
        user.command(`${action} <username>`).description(action === 'disable' ? 'Disable a user: sessions end, API tokens stop.' : 'Enable a disabled user.'),
      ),
    )
      .addHelpText('after', `\nExample:\n  $ bwc gateway user ${action} olga --config /etc/bwc/gateway.yaml\n`)
      .action(async (username: string, o: Common & { by: string }) => {
        await withAuth(o, (auth) => (action === 'disable' ? auth.disableUser(username, o.by) : auth.enableUser(username, o.by)));
        process.stdout.write(`user ${username} ${action}d\n`);
      });
  }

  by(withCommon(user.command('password <username>').description("Set a user's password from stdin, or --generate one (printed once); their sessions end.")))
    .option('--generate', 'generate a password and print it once')
    .addHelpText('after', '\nExample:\n  $ printf %s "$NEW_PASSWORD" | bwc gateway user password olga\n  $ bwc gateway user password olga --generate\n')
    .action(async (username: string, o: Common & { by: string; generate?: boolean }) => {
      const password = o.generate ? generatePassword() : readStdin();
      await withAuth(o, async (auth) => {
        if (!(await auth.getUser(username))) throw new CliError(`no user ${username}`);
        await auth.setPassword(username, password, o.by, { generated: o.generate === true });
      });
      process.stdout.write(o.generate ? `${JSON.stringify({ username, password })}\n` : `password of ${username} set\n`);
    });

  const token = gw.command('token').description("API tokens for people's scripts (the secret is shown once; only its hash is kept).");
  by(withCommon(token.command('create <username>').description('Create an API token acting for a user; prints it once.')))
    .requiredOption('--name <name>', 'what it is for')
    .option('--days <n>', 'expires after this many days (1 to 3650; default never)')
    .addHelpText('after', '\nExample:\n  $ bwc gateway token create rita --name "nightly export" --days 90 > rita.token\n')
    .action(async (username: string, o: Common & { by: string; name: string; days?: string }) => {
      const days = o.days === undefined ? undefined : Number(o.days);
      const r = await withAuth(o, (auth) => auth.createApiToken(username, o.name, days, o.by));
      process.stdout.write(`${JSON.stringify({ token: r.token, id: r.info.id, username: r.info.username, name: r.info.name, expiresAt: r.info.expiresAt })}\n`);
    });
  withCommon(token.command('list').description('List API tokens (never their secrets): one JSON line each, newest first.'))
    .option('--user <username>', "only this user's tokens")
    .addHelpText('after', '\nExample:\n  $ bwc gateway token list --user rita\n')
    .action(async (o: Common & { user?: string }) => {
      const tokens = await withAuth(o, (auth) => auth.listAllApiTokens());
      for (const t of tokens.filter((x) => o.user === undefined || x.username === o.user)) process.stdout.write(`${JSON.stringify(t)}\n`);
    });
  by(withCommon(token.command('revoke <id>').description('Revoke an API token at once.')))
    .addHelpText('after', '\nExample:\n  $ bwc gateway token revoke 7\n')
    .action(async (id: string, o: Common & { by: string }) => {
      if (!/^[1-9]\d{0,15}$/.test(id)) throw new CliError(`a token id is a positive whole number, got "${id}"`);
      const revoked = await withAuth(o, (auth) => auth.revokeApiToken(Number(id), o.by));
      if (!revoked) throw new CliError(`no token ${id} to revoke (unknown, or revoked already)`);
      process.stdout.write(`token ${id} revoked\n`);
    });

  const device = gw.command('device').description('Enroll devices (docks and wearables).');
  withCommon(device.command('add').description('Enroll a device with its public key; prints its MQTT credentials once.'))
    .requiredOption('--device-id <id>', 'the device id')
    .requiredOption('--pubkey <file>', "the device's public key (public.hex or public.pem from bwc keygen)")
    .option('--by <name>', 'who enrolls it (recorded)', process.env.USER ?? 'cli')
    .addHelpText('after', '\nExample:\n  $ bwc gateway device add --device-id wear-0042 --pubkey wear-0042/public.hex --data-dir /var/lib/bwc-gateway\n')
    .action(async (o: Common & { deviceId: string; pubkey: string; by: string }) => {
      let key;
      try {
        key = loadPublicKeyFile(o.pubkey);
      } catch (e) {
        throw new CliError(isWireError(e) ? e.message : (e as Error).message);
      }
      const r = await withDb(o, async (c, db) => {
        const fleet = new Fleet({ db, alerts: new Alerts(db), fleet: c.fleet });
        return fleet.enroll(o.deviceId, key.raw, o.by).catch((e: unknown) => {
          throw new CliError(e instanceof FleetError ? e.message : (e as Error).message);
        });
      });
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });
  withCommon(device.command('token').description('Issue a one-time enrollment token for a device id (the dock redeems it).'))
    .requiredOption('--device-id <id>', 'the device id the token is bound to')
    .option('--hours <n>', 'validity', '24')
    .option('--by <name>', 'who issues it (recorded)', process.env.USER ?? 'cli')
    .addHelpText('after', '\nExample:\n  $ bwc gateway device token --device-id dock-sea-01 --hours 4 --config /etc/bwc/gateway.yaml\n')
    .action(async (o: Common & { deviceId: string; hours: string; by: string }) => {
      const hours = Number(o.hours);
      if (!(hours > 0 && hours <= 720)) throw new CliError(`--hours must be between 0 and 720, got "${o.hours}"`);
      const r = await withDb(o, async (c, db) => {
        const fleet = new Fleet({ db, alerts: new Alerts(db), fleet: c.fleet });
        return fleet.createEnrollmentToken(o.deviceId, o.by, hours * 3600_000).catch((e: unknown) => {
          throw new CliError((e as Error).message);
        });
      });
      process.stdout.write(`${JSON.stringify({ deviceId: o.deviceId, token: r.token, expiresAt: new Date(r.expiresAt).toISOString() })}\n`);
    });

  registerConfigReference(gw, 'gateway', GatewayConfigSchema, GATEWAY_ENV, 'gateway/README.md');
}
