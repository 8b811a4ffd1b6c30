/** The documentation states what the code does: every reason code is in device/README.md. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../proto/policy-vocab.js';
import { ROOT } from './helpers.js';

describe('documentation', () => {
  it('device/README.md lists every reason code with its clause', () => {
    const readme = readFileSync(join(ROOT, 'device', 'README.md'), 'utf8');
    for (const [code, r] of Object.entries(REASONS)) expect(readme, code).toContain(`| \`${code}\` | ${r.clause} |`);
  });
});
