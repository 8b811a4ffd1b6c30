/**
 * Ed25519 key directories: the one on-disk format for every key in the system (a dock's device
 * key, a gateway key, an agency root or an official's key). `bwc keygen` and `bwc authz keygen`
 * write it; the dock, the gateway and the offline signing tools read it.
 *
 *   private.pem   PKCS#8 PEM, mode 0600 (OpenSSL reads it: `openssl pkey -in private.pem`)
 *   public.pem    SPKI PEM
 *   public.hex    the raw 32-byte public key in hex
 *
 * A private key that group or others can read, or that is a symbolic link, is refused.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOf, publicKeyToPem, checkPublicKey } from './ed25519.js';
import { toHex } from './bytes.js';

export const PRIVATE_KEY_FILE = 'private.pem';
export const PUBLIC_PEM_FILE = 'public.pem';
export const PUBLIC_HEX_FILE = 'public.hex';

export class KeyFileError extends Error {
  readonly code: 'EXISTS' | 'NOT_FOUND' | 'PERMISSIONS' | 'INVALID' | 'NOT_A_DIRECTORY';
  constructor(code: KeyFileError['code'], message: string) {
    super(message);
    this.name = 'KeyFileError';
    this.code = code;
  }
}

function writeNew(path: string, data: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError('EXISTS', `${path} already exists; refusing to overwrite a key`);
    throw e;
  }
  try {
    fchmodSync(fd, mode); // whatever the umask was
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

export interface GeneratedKey {
  readonly keyId: string;
  readonly publicKeyHex: string;
  readonly files: { readonly privateKey: string; readonly publicPem: string; readonly publicHex: string };
}

/** `bwc keygen`: a new key pair in `dir` (created 0700 if missing). Never overwrites. */
export function generateKeyDir(dir: string): GeneratedKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!statSync(dir).isDirectory()) throw new KeyFileError('NOT_A_DIRECTORY', `${dir} is not a directory`);
  const files = { privateKey: join(dir, PRIVATE_KEY_FILE), publicPem: join(dir, PUBLIC_PEM_FILE), publicHex: join(dir, PUBLIC_HEX_FILE) };
  for (const f of Object.values(files)) {
    try {
      statSync(f);
      throw new KeyFileError('EXISTS', `${f} already exists; refusing to overwrite a key`);
    } catch (e) {
      if (e instanceof KeyFileError) throw e;
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  checkPublicKey(raw);
  writeNew(files.privateKey, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  writeNew(files.publicPem, publicKeyToPem(raw), 0o644);
  writeNew(files.publicHex, `${toHex(raw)}\n`, 0o644);
  return { keyId: keyIdOf(raw), publicKeyHex: toHex(raw), files };
}

export interface PrivateKeyFile {
  readonly path: string;
  /** The 32-byte Ed25519 seed. */
  readonly seed: Buffer;
  /** The same key as a node:crypto KeyObject. */
  readonly keyObject: KeyObject;
}

/**
 * Reads the private key of a key directory (or a private.pem path). Refuses a private key that
 * group or others can read, naming the file and the fix.
 */
export function readPrivateKey(dirOrFile: string): PrivateKeyFile {
  let path = dirOrFile;
  try {
    if (statSync(dirOrFile).isDirectory()) path = join(dirOrFile, PRIVATE_KEY_FILE);
  } catch {
    throw new KeyFileError('NOT_FOUND', `key ${dirOrFile} does not exist (create one with: bwc keygen --out ${dirOrFile})`);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyFileError('NOT_FOUND', `private key ${path} does not exist`);
    if (code === 'ELOOP') throw new KeyFileError('PERMISSIONS', `private key ${path} is a symbolic link; point at the file itself`);
    throw new KeyFileError('INVALID', `private key ${path} cannot be opened: ${(e as Error).message}`);
  }
  let pem: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError('INVALID', `private key ${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw new KeyFileError(
        'PERMISSIONS',
        `private key ${path} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); fix it with: chmod 600 ${path}`,
      );
    }
    if (st.size > 16 * 1024) throw new KeyFileError('INVALID', `private key ${path} is ${st.size} bytes; not a key file`);
    pem = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let keyObject: KeyObject;
  let jwk: { crv?: string; d?: string };
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
    jwk = keyObject.export({ format: 'jwk' }) as typeof jwk;
  } catch {
    throw new KeyFileError('INVALID', `private key ${path} is not a PEM private key`);
  }
  if (jwk.crv !== 'Ed25519' || !jwk.d) throw new KeyFileError('INVALID', `private key ${path} is not an Ed25519 key`);
  return { path, seed: Buffer.from(jwk.d, 'base64url'), keyObject };
}
