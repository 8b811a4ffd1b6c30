/**
 * A public key as people compare it: its fingerprint (the key id, hex SHA-256 of the raw key, the
 * digits `bwc` prints and `--root-fingerprint` takes) in groups of four, and a button that copies
 * the whole public key for pasting into a keyring, a config or `bwc verify --pubkey`.
 */
import { useState } from 'preact/hooks';
import { formatFingerprint } from '../format.js';

/** Copies `text`: the Clipboard API where the page may use it, else a selected text area. */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'vh';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('the browser refused to copy');
}

export function KeyFingerprint({ keyId, publicKey, label }: { keyId: string; publicKey: string; label: string }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = () => {
    copyText(publicKey).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <span class="key-fingerprint" data-key-id={keyId}>
      <code class="fingerprint" title={`key id ${keyId}`}>
        {formatFingerprint(keyId)}
      </code>
      <button type="button" class="btn btn-small" onClick={copy} aria-label={`Copy the public key of ${label}`}>
        Copy public key
      </button>
      <span class="copy-status" role="status">
        {copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Could not copy: select the key in the page source instead.' : ''}
      </span>
    </span>
  );
}
