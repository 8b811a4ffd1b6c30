/** One line for a zod validation failure: where (source and field path) and what. */
import type { z } from 'zod';

export function firstIssue(error: z.ZodError, source: string): string {
  const issue = error.issues[0]!;
  return `${source}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`;
}
