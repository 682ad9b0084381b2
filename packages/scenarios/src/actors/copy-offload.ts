import type { Actor, Kernel } from '@mmsim/kernel';
import { CopyOffload, type DmaCopyMigrator, type ThreadCopyMigrator } from '@mmsim/migrate';
import { type KernelGen, MmsimError } from '@mmsim/runtime';

/**
 * The copy-offload registration of a scenario's kernel (`migrate_offload_register` and
 * friends, RFC v6 of the batch-copy series). It belongs to the built-in migrate core; a
 * kernel whose `migrate` part was replaced by one without it gets INVALID_CONFIG.
 */
export function copyOffloadOf(k: Kernel): CopyOffload {
  const offload = (k.migrate as { readonly copyOffload?: unknown }).copyOffload;
  if (!(offload instanceof CopyOffload)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      'this scenario registers a copy provider: it needs the built-in migrate core (parts.migrate must keep copyOffload)',
    );
  }
  return offload;
}

/** Options of `providerUnload`. */
export interface ProviderUnloadOptions {
  /** Default `rmmod`. */
  readonly name?: string;
  readonly cpu: number;
  readonly provider: DmaCopyMigrator | ThreadCopyMigrator;
  /**
   * Scheduling points to wait for a copy to be in flight in the provider before unloading
   * anyway. Default 200. A variant that never pre-copies (`copyStrategy: 'in-move'`) does
   * not wait.
   */
  readonly maxPolls?: number;
  /** Filled in: whether a copy was in flight in the provider when the unload began. */
  readonly stats?: { unloadedDuringCopy: boolean };
}

/**
 * `rmmod` of a copy provider's module (dcbm's module exit, RFC v6 4/5): waits until a
 * batch copy is in flight in the provider (or gives up waiting after `maxPolls` scheduling
 * points; at once in a variant without batch copy), then `migrate_offload_unregister` (which `synchronize_srcu()`s) and the
 * release of the provider's channels. A copy still running at the release is a use after
 * free, reported as a kernel BUG by the provider.
 */
export function providerUnload(k: Kernel, options: ProviderUnloadOptions): Actor {
  const { provider } = options;
  const maxPolls = options.maxPolls ?? 200;
  return {
    name: options.name ?? 'rmmod',
    cpu: options.cpu,
    models: `rmmod ${provider.name}: migrate_offload_unregister (synchronize_srcu), then the channels are released (RFC v6 3/5, 4/5)`,
    *body(): KernelGen {
      const offload = copyOffloadOf(k);
      const polls = k.migrate.variant.copyStrategy === 'batch-precopy' ? maxPolls : 0;
      for (let i = 0; i < polls && provider.inFlight === 0; i++) yield;
      if (options.stats !== undefined) options.stats.unloadedDuringCopy = provider.inFlight > 0;
      const rc = yield* offload.unregister(provider);
      if (rc !== 0) {
        throw new MmsimError(
          'CONTRACT_VIOLATION',
          `migrate_offload_unregister(${provider.name}) returned ${rc}: it was not the registered provider`,
        );
      }
      provider.release();
    },
  };
}
