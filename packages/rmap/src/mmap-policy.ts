import { Mempolicy, MPOL_BIND, MPOL_PREFERRED, nodemaskNone } from './mempolicy.js';
import type { MemPolicy } from './vma.js';

/** The `struct mempolicy` of mmap's short form: MPOL_BIND or MPOL_PREFERRED on one node. */
export function mmapPolicyOf(policy: MemPolicy | undefined): Mempolicy | null {
  if (policy === undefined) return null;
  const nodes = nodemaskNone();
  nodes[policy.node] = 1;
  const pol = new Mempolicy(policy.mode === 'bind' ? MPOL_BIND : MPOL_PREFERRED, 0, nodes);
  pol.cpusetMemsAllowed.fill(1);
  return pol;
}
