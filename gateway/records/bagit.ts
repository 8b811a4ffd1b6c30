/**
 * BagIt packages (RFC 8493) for the transfer of a record: the payload under `data/`, its SHA-256
 * checksums in `manifest-sha256.txt` (`<hex>  data/<path>`, which `sha256sum -c` also reads),
 * `bagit.txt`, `bag-info.txt` (with Payload-Oxum) and `tagmanifest-sha256.txt` over the tag files.
 *
 * The payload of a clip record (records.ts): the clip, its signed manifest envelope, the signer's
 * public key, the verification report (`bwc verify --json`), and the audit extract (every entry
 * about the record, with the newest signed checkpoint).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TarEntry } from './tar.js';

export interface PayloadFile {
  /** Relative to `data/`, with `/`; letters, digits, `. _ - /` only (no spaces: one line per file in the manifests). */
  path: string;
  data?: Buffer;
  /** A file streamed into the bag, with its known size and SHA-256 (checked when written). */
  file?: { path: string; size: number; sha256: string };
}

export interface Bag {
  name: string;
  /** Every file of the bag, tag files included, relative to the bag's directory. */
  files: { path: string; data?: Buffer; file?: { path: string; size: number; sha256: string } }[];
}

const SAFE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Makes a bag of `payload` with `info` as bag-info.txt labels (Bagging-Date and Payload-Oxum are added). */
export function makeBag(name: string, payload: readonly PayloadFile[], info: readonly [string, string][], now: number): Bag {
  if (!SAFE_PATH.test(name) || name.includes('/')) throw new RangeError(`bag name ${name} is not a safe directory name`);
  let octets = 0;
  const lines: string[] = [];
  for (const p of payload) {
    if (!SAFE_PATH.test(p.path) || p.path.split('/').some((s) => s === '.' || s === '..')) throw new RangeError(`payload path ${p.path} is not safe`);
    const size = p.data ? p.data.byteLength : p.file!.size;
    octets += size;
    lines.push(`${p.data ? sha256(p.data) : p.file!.sha256}  data/${p.path}`);
  }
  const bagit = Buffer.from('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
  const infoText = [
    ...info.map(([k, v]) => `${k}: ${v.replace(/[\r\n]+/g, ' ')}`),
    `Bagging-Date: ${new Date(now).toISOString().slice(0, 10)}`,
    `Payload-Oxum: ${octets}.${payload.length}`,
  ].join('\n');
  const bagInfo = Buffer.from(`${infoText}\n`);
  const manifest = Buffer.from(`${lines.join('\n')}\n`);
  const tagmanifest = Buffer.from(
    `${[
      ['bagit.txt', bagit],
      ['bag-info.txt', bagInfo],
      ['manifest-sha256.txt', manifest],
    ]
      .map(([n, b]) => `${sha256(b as Buffer)}  ${n as string}`)
      .join('\n')}\n`,
  );
  return {
    name,
    files: [
      { path: 'bagit.txt', data: bagit },
      { path: 'bag-info.txt', data: bagInfo },
      { path: 'manifest-sha256.txt', data: manifest },
      { path: 'tagmanifest-sha256.txt', data: tagmanifest },
      ...payload.map((p) => ({ path: `data/${p.path}`, ...(p.data ? { data: p.data } : { file: p.file! }) })),
    ],
  };
}

/** The bag as tar entries under `{name}/` (directories first). */
export function bagTarEntries(bag: Bag, mtimeMs: number): TarEntry[] {
  const dirs = new Set<string>([`${bag.name}/`]);
  for (const f of bag.files) {
    const parts = f.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${bag.name}/${parts.slice(0, i).join('/')}/`);
  }
  return [
    ...[...dirs].sort().map((path) => ({ path, mtimeMs })),
    ...bag.files.map((f) =>
      f.data ? { path: `${bag.name}/${f.path}`, data: f.data, mtimeMs } : { path: `${bag.name}/${f.path}`, file: f.file!.path, size: f.file!.size, mtimeMs },
    ),
  ];
}

/** Writes the bag into `{parent}/{name}/`, checking each copied file against its SHA-256. Returns the bag directory. */
export async function writeBag(bag: Bag, parent: string): Promise<string> {
  const root = join(parent, bag.name);
  for (const f of bag.files) {
    const out = join(root, f.path);
    await mkdir(dirname(out), { recursive: true });
    if (f.data) await writeFile(out, f.data, { flag: 'wx' });
    else {
      await copyFile(f.file!.path, out);
      const h = createHash('sha256');
      for await (const c of createReadStream(out)) h.update(c as Buffer);
      if (h.digest('hex') !== f.file!.sha256) throw new Error(`${f.file!.path} changed while it was copied into the bag`);
    }
  }
  return root;
}
