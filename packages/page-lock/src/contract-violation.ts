import { MmsimError } from '@mmsim/runtime';

/** A CONTRACT_VIOLATION error: the caller broke a locking rule, and nothing changed. */
export function contract(message: string): MmsimError {
  return new MmsimError('CONTRACT_VIOLATION', message);
}
