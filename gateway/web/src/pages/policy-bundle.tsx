/**
 * The policy bundle in force, the next draft to sign offline with the agency root key
 * (`bwc authz sign-bundle`), the officials whose keys it trusts (each key's fingerprint, and its
 * public key to copy), and for the Director, putting a signed bundle in force.
 */
import { useRef, useState } from 'preact/hooks';
import type { PolicyBundleResponse, PublishBundleResponse } from '../../../api/types.js';
import { api } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { FactList } from '../components/Fields.js';
import { KeyFingerprint } from '../components/KeyFingerprint.js';
import { Loading, Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { bytesToBase64, saveBlob } from '../download.js';
import { useAction, useResource } from '../hooks.js';
import { useHasRole, WHO } from '../session.js';

function docks(delivered: number): string {
  return `${delivered} dock${delivered === 1 ? '' : 's'}`;
}

export function PolicyBundlePanel() {
  const bundle = useResource((s) => api.get<PolicyBundleResponse>('/api/v1/policy/bundle', s), []);
  const mayPublish = useHasRole(WHO.publishBundle);
  const b = bundle.data;

  const downloadDraft = () => {
    if (!b) return;
    const draft = b.draftSource as { version?: unknown } | null;
    const version = typeof draft?.version === 'number' ? draft.version : b.version + 1;
    saveBlob(new Blob([`${JSON.stringify(b.draftSource, null, 2)}\n`], { type: 'application/json' }), `policy-bundle-v${version}-draft.json`);
  };

  return (
    <Panel title="Policy bundle" id="policy-bundle">
      {bundle.error?.status === 404 ? (
        <p class="notice">{bundle.error.message}</p>
      ) : (
        <ErrorBanner error={bundle.error} context="Could not load the policy bundle" />
      )}
      {!b && bundle.loading ? <Loading what="the policy bundle" /> : null}
      {b ? (
        <>
          <FactList
            items={[
              ['Version in force', String(b.version)],
              ['Hash', <code class="hash">{b.hash}</code>],
              ['Issued', <Time at={b.issuedAt} />],
              ['Expires', <Time at={b.expiresAt} />],
            ]}
          />
          {b.issuers.length > 0 ? (
            <div class="table-fit">
              <table class="table issuers">
                <caption>Officials whose keys the bundle trusts</caption>
                <thead>
                  <tr>
                    <th scope="col">Official</th>
                    <th scope="col">Roles</th>
                    <th scope="col">Key fingerprint</th>
                  </tr>
                </thead>
                <tbody>
                  {b.issuers.map((i) => (
                    <tr key={i.keyId} data-issuer={i.personId}>
                      <th scope="row">
                        {i.name} <span class="sub">({i.personId})</span>
                        {i.compromised ? (
                          <>
                            {' '}
                            <span class="badge key-REVOKED_AT_RECORDING_TIME">compromised</span>
                          </>
                        ) : null}
                      </th>
                      <td>{i.roles.join(', ')}</td>
                      <td class="wrap">
                        <KeyFingerprint keyId={i.keyId} publicKey={i.publicKey} label={`${i.name} (${i.personId})`} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          <div class="actions">
            <button type="button" class="btn" onClick={downloadDraft}>
              Download draft
            </button>
            <span class="hint">
              The source of the bundle in force with its version raised: edit it, then sign it offline with the root key (
              <code>bwc authz sign-bundle FILE --key ROOT-KEY --out FILE.bundle</code>).
            </span>
          </div>
        </>
      ) : null}
      {mayPublish ? <PublishBundle onPublished={bundle.reload} /> : null}
    </Panel>
  );
}

function PublishBundle({ onPublished }: { onPublished: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [published, setPublished] = useState<PublishBundleResponse | null>(null);
  const publish = useAction(async () => {
    const file = input.current?.files?.[0];
    if (!file) throw new Error('Choose the signed bundle file first.');
    const envelope = bytesToBase64(new Uint8Array(await file.arrayBuffer()));
    return api.post<PublishBundleResponse>('/api/v1/policy/bundles', { envelope });
  });
  const submit = async (e: Event) => {
    e.preventDefault();
    setPublished(null);
    const r = await publish.run();
    if (!r) return;
    setPublished(r.value);
    if (input.current) input.current.value = '';
    onPublished();
  };
  return (
    <form class="publish" onSubmit={(e) => void submit(e)} aria-labelledby="publish-h">
      <h3 id="publish-h">Publish a signed bundle</h3>
      <p class="muted">The gateway checks the root signature and that the version is above the one in force, then sends it to every dock.</p>
      <div class="field">
        <label for="bundle-file">Signed bundle file</label>
        <input id="bundle-file" ref={input} type="file" />
      </div>
      <ErrorBanner error={publish.error} context="The bundle was not published" />
      {published ? (
        <p class="notice notice-ok" role="status">
          Bundle version {published.version} is in force (<code>{published.hash.slice(0, 16)}…</code>), sent to {docks(published.deliveredTo)}.
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="btn btn-primary" aria-disabled={publish.busy}>
          {publish.busy ? 'Publishing…' : 'Publish bundle'}
        </button>
      </div>
    </form>
  );
}
