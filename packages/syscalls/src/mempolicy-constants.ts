/**
 * The memory-policy constants of set_mempolicy(2), get_mempolicy(2), mbind(2), move_pages(2)
 * and migrate_pages(2) (include/uapi/linux/mempolicy.h): modes, mode flags, get_mempolicy
 * flags and the `MPOL_MF_*` flags, with the kernel's numbers, so that a test names them as a
 * C test does. The rmap package keeps them (the kernel side reads them); they are given here
 * under the names user programs use.
 */
export {
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_F_ADDR,
  MPOL_F_MEMS_ALLOWED,
  MPOL_F_NODE,
  MPOL_F_NUMA_BALANCING,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MAX,
  MPOL_MF_INTERNAL,
  MPOL_MF_LAZY,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  MPOL_MF_VALID,
  MPOL_MODE_FLAGS,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
} from '@mmsim/rmap';
