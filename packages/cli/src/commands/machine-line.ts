import type { ResolvedKernelConfig } from '@mmsim/kernel';

/**
 * The `machine:` line of `mmsim run`'s summary, for a machine whose distance table or
 * per-node memory cost factors differ from the defaults (10 local, 20 remote, factors
 * 1); null otherwise, so default machines print what they always printed.
 * `machine: distances [10 20; 20 10], node 1 memory access x2.5 copy x2`
 */
export function formatMachineLine(config: ResolvedKernelConfig): string | null {
  const parts: string[] = [];
  const d = config.distances;
  const custom = d.some((row, a) => row.some((v, b) => v !== (a === b ? 10 : 20)));
  if (custom) parts.push(`distances [${d.map((row) => row.join(' ')).join('; ')}]`);
  config.nodes.forEach((node, nid) => {
    if (node.accessFactor !== 1 || node.copyFactor !== 1) {
      parts.push(`node ${nid} memory access x${node.accessFactor} copy x${node.copyFactor}`);
    }
  });
  return parts.length === 0 ? null : `machine: ${parts.join(', ')}`;
}
