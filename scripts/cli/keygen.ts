/** `bwc keygen --out DIR`: a device (or signer) Ed25519 key pair. */
import type { Command } from 'commander';
import { generateKeyDir, KeyFileError } from '../../device/custody/keys.js';
import { CliError, writeJson } from './common.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('Generate an Ed25519 key pair: private.pem (mode 0600), public.pem (SPKI) and public.hex (raw).')
    .requiredOption('--out <dir>', 'directory for the key files (created mode 0700; existing keys are never overwritten)')
    .option('--json', 'print the key id and file paths as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc keygen --out /var/lib/bwc/key\n  $ openssl pkey -in /var/lib/bwc/key/private.pem -noout -text   # OpenSSL reads it\n',
    )
    .action((opts: { out: string; json?: boolean }) => {
      try {
        const key = generateKeyDir(opts.out);
        if (opts.json) writeJson(key);
        else
          process.stdout.write(
            `key id ${key.keyId}\npublic ${key.publicKeyHex}\nwrote ${key.files.privateKey} (0600), ${key.files.publicPem}, ${key.files.publicHex}\n`,
          );
      } catch (e) {
        if (e instanceof KeyFileError) throw new CliError(e.message);
        throw e;
      }
    });
}
