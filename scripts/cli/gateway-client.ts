/**
 * How `bwc` commands talk to a running gateway's HTTP API (`bwc authz request …`, `bwc records …`):
 * the gateway from `--gateway URL` or BWC_GATEWAY_URL, an API token (gateway/api/README.md, "API
 * tokens") from `--token-file FILE` or BWC_TOKEN — never a command-line argument, which other users
 * of the machine could read in the process list. A refusal comes back as one line with the
 * gateway's code and message; exit status 1 for a refusal by the gateway, 2 for bad usage.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './common.js';

export interface GatewayOptions {
  gateway?: string;
  tokenFile?: string;
}

/** Adds `--gateway` and `--token-file` to a command. */
export function gatewayOptions(c: Command): Command {
  return c
    .option('--gateway <url>', 'the gateway, e.g. https://gw.example:8443 (default: $BWC_GATEWAY_URL)')
    .option('--token-file <file>', 'a file holding an API token (default: $BWC_TOKEN)');
}

export class GatewayClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  static from(o: GatewayOptions, env: NodeJS.ProcessEnv = process.env): GatewayClient {
    const url = o.gateway ?? env.BWC_GATEWAY_URL;
    if (!url) throw new CliError('no gateway: give --gateway URL or set BWC_GATEWAY_URL');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`--gateway ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`--gateway must be an http(s) URL, got ${parsed.protocol}`);
    let token = env.BWC_TOKEN ?? '';
    if (o.tokenFile) {
      try {
        token = readFileSync(o.tokenFile, 'utf8').trim();
      } catch (e) {
        throw new CliError(`cannot read --token-file ${o.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (!token) throw new CliError('no API token: give --token-file FILE or set BWC_TOKEN');
    return new GatewayClient(parsed.origin, token);
  }

  /** A JSON request; resolves with the reply's JSON, or throws CliError with the gateway's refusal. */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the gateway at ${this.base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, 1);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new CliError(`the gateway refused (${res.status} ${err?.code ?? res.statusText}): ${err?.message ?? text.slice(0, 200)}`, 1);
    }
    return json as T;
  }
}
