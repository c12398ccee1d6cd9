import { createHash } from 'node:crypto';
import { stepKey, type IterationPath } from '@jetflow/contracts';

/**
 * The approval of one human_approval step attempt: a UUID-shaped hash of (execution, step
 * instance, attempt), so replaying the log (or a second replica) lands on the same row.
 */
export function approvalId(executionId: string, stepId: string, iteration: IterationPath | undefined, attempt: number): string {
  const h = createHash('sha256').update(`approval\n${executionId}\n${stepKey(stepId, iteration)}\n${attempt}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
