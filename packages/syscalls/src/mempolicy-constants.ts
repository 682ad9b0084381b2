/**
 * The `MPOL_MF_*` flags of mbind(2), move_pages(2) and migrate_pages(2)
 * (include/uapi/linux/mempolicy.h, Linux 6.12): the values are the kernel's, so a test
 * names them as a C test does.
 */

/** `MPOL_MF_STRICT`: mbind fails with EIO when a page in the range does not follow the policy. */
export const MPOL_MF_STRICT = 1 << 0;
/** `MPOL_MF_MOVE`: move the pages used by this process only (mapped once). */
export const MPOL_MF_MOVE = 1 << 1;
/** `MPOL_MF_MOVE_ALL`: move every page, shared ones too; needs CAP_SYS_NICE. */
export const MPOL_MF_MOVE_ALL = 1 << 2;
/** `MPOL_MF_LAZY`: in the uapi header, but refused by mbind (not in MPOL_MF_VALID). */
export const MPOL_MF_LAZY = 1 << 3;
/** `MPOL_MF_INTERNAL`: kernel-internal, never accepted from user space. */
export const MPOL_MF_INTERNAL = 1 << 4;
/** `MPOL_MF_VALID`: the flags mbind accepts. */
export const MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL;
