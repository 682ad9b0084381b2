/**
 * Pages per node of a historic scenario's machine: enough for what it places and moves
 * (`pages` of a file or device, their copies on the other node, the scenario's own
 * allocations), and no more, since every frame is walked by the memory invariants on their
 * checks and allocated in each instance's memory map. 4 frames per scenario page, at least
 * 64, at most 1,024 (the size these scenarios had before); the schedules, findings and
 * replay tokens are those of the 1,024-page machines (the scenarios allocate from the bottom
 * of each node, so the extra frames were never touched; see
 * test/historic-machine-size.test.ts).
 */
export function historicNodePages(pages: number): number {
  return Math.min(1024, Math.max(64, 4 * pages));
}
