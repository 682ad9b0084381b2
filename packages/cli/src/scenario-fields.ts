import { z } from 'zod';

/**
 * The field schemas every scenario-file actor kind shares, with the one-line messages the
 * command line prints for a bad value.
 */

/** An integer in [min, max]; the message names what it counts. */
export function count(what: string, min: number, max: number) {
  const message = `must be ${what} (an integer in [${min}, ${max}])`;
  return z
    .number({ invalid_type_error: message, required_error: message })
    .int({ message })
    .min(min, { message })
    .max(max, { message });
}

/** A lower-case name (a process, a task, a driver). */
export const name = z
  .string({ required_error: 'must be a name' })
  .regex(/^[a-z][a-z0-9-]*$/, { message: 'must be a lower-case name (letters, digits, -)' });
