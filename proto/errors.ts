/**
 * The typed errors of the wire contract. Every failure to read or trust bytes is a WireError with a
 * stable `code`, so callers count by reason and print one line without a stack trace.
 */
export type WireErrorCode =
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'TRUNCATED'
  | 'UNDECODABLE'
  | 'NON_CANONICAL'
  | 'BAD_TYPE'
  | 'WRONG_TYPE'
  | 'NOT_SIGNED'
  | 'BAD_SIGNATURE'
  | 'BAD_KEY'
  | 'WEAK_KEY'
  | 'UNSUPPORTED_VERSION'
  | 'INCONSISTENT'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'BAD_TOPIC'
  | 'BAD_ID';

export class WireError extends Error {
  readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WireError';
    this.code = code;
  }
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}
