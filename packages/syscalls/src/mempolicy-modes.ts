/**
 * The memory-policy modes and flags of set_mempolicy(2), get_mempolicy(2) and mbind(2)
 * (include/uapi/linux/mempolicy.h, Linux 6.3), with the kernel's numbers, so that a test
 * names them as a C test does. They are the rmap package's constants (the kernel side
 * keeps them), given here under the names user programs use.
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
  MPOL_MODE_FLAGS,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
} from '@mmsim/rmap';
