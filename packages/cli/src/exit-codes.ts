/** 0: done, nothing found. */
export const EXIT_OK = 0;
/** 1: a finding (deadlock, invariant violation, lock inversion, crash). */
export const EXIT_FINDING = 1;
/** 2: bad usage or bad input (unknown scenario, invalid file or option). */
export const EXIT_USAGE = 2;
/** 130: interrupted (Ctrl-C, SIGINT: 128 + 2), after printing what was done so far. */
export const EXIT_INTERRUPTED = 130;
