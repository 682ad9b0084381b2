// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/folio/internal: may change in any release. The memmap behind `PhysicalMemory`
 * and the raw free lists, for prototypes and tests; users of the model need only
 * `@mmsim/folio`.
 */

// The memmap: the internal form of a PhysicalMemory (the same object).
export { Memmap, memmapOf, type PageblockState } from './memmap.js';
export { FOLIO_TYPE_HUGETLB, FRAME_FREE, FRAME_HEAD, FRAME_TAIL } from './memmap.js';

// The free lists themselves (the public surface has their counts).
export { nodeFreeList } from './buddy.js';
export { hugetlbFreeList } from './hugetlb.js';

// The two forms of the memory-map check (`checkPhysicalMemory` runs the first, then the
// second when it finds something), for the tests that compare them.
export { physicalMemoryLooksSound } from './invariants/sound.js';
export { reportPhysicalMemory } from './invariants/report.js';
