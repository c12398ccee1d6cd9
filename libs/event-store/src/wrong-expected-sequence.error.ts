import { JetflowError } from '@jetflow/contracts';

/**
 * An append lost the compare-and-set: the execution's log moved past `expectedSeq`
 * (another writer appended first). Reload, decide again, retry.
 */
export class WrongExpectedSequenceError extends JetflowError {
  override readonly code = 'CONFLICT' as const;

  constructor(
    readonly executionId: string,
    readonly expectedSeq: number,
    options?: { cause?: unknown },
  ) {
    super('CONFLICT', `execution ${executionId}: log is past expected sequence ${expectedSeq}`);
    this.name = 'WrongExpectedSequenceError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
