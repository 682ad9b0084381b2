import { createKernel, type Kernel } from '@mmsim/kernel';
import { createUserland, type Userland } from '../src/index.js';

/** A two-node machine (CPUs 0-1 on node 0, 2-3 on node 1) with its user space, for the tests. */
export function machine(pagesPerNode = 512): { kernel: Kernel; user: Userland } {
  const kernel = createKernel({ nodes: [{ pages: pagesPerNode }, { pages: pagesPerNode }] });
  return { kernel, user: createUserland(kernel) };
}
