import { MmsimError } from '@mmsim/runtime';
import {
  checkPage,
  type Folio,
  FRAME_HEAD,
  folioError,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Page contents for data-integrity checks. Each base page carries one content word (a
 * number) standing for its 4 KiB of data: user tasks write and read it, migration copies it
 * (`folio_copy`), and after a run every virtual address must read the last word written to
 * it. New folios start at 0; the shared zero page reads 0 and cannot be written.
 */

/** The content word of one page of a live folio. */
export function pageContent(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  const s = m.state[pfn];
  if (s !== FRAME_HEAD) checkPage(m, pfn);
  return m.content[pfn]!;
}

/** Writes the content word of one page of a live folio (any finite number). */
export function setPageContent(mem: PhysicalMemory, pfn: number, word: number): void {
  const m = memmapOf(mem);
  const s = m.state[pfn];
  if (s !== FRAME_HEAD) checkPage(m, pfn);
  if (pfn === m.zeroPfn) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `pfn ${pfn} is the shared zero page, which is read-only: a write must fault in a new page (do_wp_page)`,
    );
  }
  if (!Number.isFinite(word)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `content word must be a finite number, got ${String(word)}`,
    );
  }
  m.content[pfn] = word;
}

/**
 * `folio_copy(dst, src)`: copy every page's content word from `src` to `dst`, which must
 * have the same number of pages.
 */
export function folioCopyContents(mem: PhysicalMemory, dst: Folio, src: Folio): void {
  const m = memmapOf(mem);
  if (m.state[dst] !== FRAME_HEAD) throw folioError(m, dst);
  if (m.state[src] !== FRAME_HEAD) throw folioError(m, src);
  if (m.order[dst] !== m.order[src]) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folioCopyContents: dst ${dst} has ${1 << m.order[dst]!} pages but src ${src} has ${1 << m.order[src]!}`,
    );
  }
  if (dst === m.zeroPfn) {
    throw new MmsimError('CONTRACT_VIOLATION', 'folioCopyContents: dst is the read-only zero page');
  }
  if (dst === src) return;
  m.content.copyWithin(dst, src, src + (1 << m.order[src]!));
}
