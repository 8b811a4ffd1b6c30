/**
 * Where a camera's clip is on the dock (DESIGN §3, "Reading clip bytes safely"). `ClipReady` names
 * a path relative to the camera's storage; it is resolved under the storage's mount point and
 * refused if it is absolute, climbs out with "..", holds a NUL, or resolves (through symbolic
 * links) outside the mount. The hasher then opens it with O_NOFOLLOW, refuses anything but a
 * regular file and reads at most the announced size.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';

export class ClipPathError extends Error {
  override name = 'ClipPathError';
}

/** The mount point of a camera's storage: an explicit mount by label, else the template. */
export function storageMount(label: string, o: { mountTemplate: string; mounts: Record<string, string> }): string {
  const explicit = o.mounts[label];
  if (explicit) return explicit;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(label))
    throw new ClipPathError(`storage label "${label.slice(0, 80)}" is not a plain name; configure storage.mounts for it`);
  return o.mountTemplate.replaceAll('{label}', label);
}

/** Resolves `relative` under `mount`, refusing every way out of it. */
export async function resolveClipPath(mount: string, relative: string): Promise<string> {
  if (relative.length === 0) throw new ClipPathError('ClipReady names no path');
  if (relative.includes('\0')) throw new ClipPathError('the clip path holds a NUL byte');
  if (isAbsolute(relative) || relative.startsWith('\\'))
    throw new ClipPathError(`the clip path ${relative.slice(0, 200)} is absolute; it must be relative to the camera storage`);
  if (relative.split(/[\\/]/).some((part) => part === '..'))
    throw new ClipPathError(`the clip path ${relative.slice(0, 200)} climbs out of the camera storage`);
  let root: string;
  try {
    root = await realpath(mount);
  } catch (e) {
    throw new ClipPathError(`camera storage ${mount} is not mounted (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let real: string;
  try {
    real = await realpath(join(root, relative));
  } catch (e) {
    throw new ClipPathError(`clip ${relative.slice(0, 200)} is not on the camera storage (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new ClipPathError(`clip ${relative.slice(0, 200)} resolves outside the camera storage`);
  }
  return real;
}
