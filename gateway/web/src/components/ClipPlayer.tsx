/**
 * A recording played in the browser (DESIGN §6: evidence is watched). Only verified content is
 * served, to the roles that may read it; the browser seeks with Range requests, and the gateway
 * audits the viewing once per session.
 */
import type { ClipState } from '../../../api/types.js';
import { seg } from '../api.js';

export function isPlayable(mediaType: string): boolean {
  return /^(video|audio)\//.test(mediaType);
}

export function ClipPlayer({ manifestHash, mediaType, state }: { manifestHash: string; mediaType: string; state: ClipState }) {
  const src = `/api/v1/clips/${seg(manifestHash)}/content`;
  return (
    <>
      {state !== 'VERIFIED' ? (
        <p class="empty">The recording plays once the gateway has verified every byte of it ({state}).</p>
      ) : mediaType.startsWith('audio/') ? (
        <audio class="clip-player" controls preload="metadata" src={src} />
      ) : (
        <video class="clip-player" controls preload="metadata" src={src} width={640} />
      )}
      <p class="muted">Playing is recorded in the audit log, once per session, with your user name.</p>
    </>
  );
}
