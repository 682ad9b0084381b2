import { MAX_MACHINE_PAGES, MAX_STEPS } from '@mmsim/kernel';

/**
 * The documented maxima of a scenario file, so that no valid file exhausts memory: the
 * machine's frames (`MAX_MACHINE_PAGES`, checked by `createKernel`), the processes, their
 * pages in all (each touched page is a folio, a page-table entry and an rmap link), the
 * actors, and the steps of a run (`MAX_STEPS`).
 */
export { MAX_MACHINE_PAGES, MAX_STEPS };

/** Most processes of a scenario file. */
export const MAX_PROCESSES = 256;

/** Most pages of all the processes of a file together (1 GiB of 4 KiB pages). */
export const MAX_PROCESS_PAGES = 1 << 18;

/** Most actors of a scenario file. */
export const MAX_ACTORS = 1024;
