/** Why a file operation failed, in words, from its Node error code. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  EEXIST: 'file exists',
  EINVAL: 'invalid argument',
};

/**
 * One line for a failed file operation: `cannot write "/x/y.json": no such file or
 * directory (ENOENT)`. The path is quoted so an empty or odd name is visible.
 */
export function fileErrorMessage(what: string, path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    path === ''
      ? 'the file name is empty'
      : code !== undefined
        ? `${REASONS[code] ?? (error as Error).message.split('\n')[0]} (${code})`
        : String((error as Error)?.message ?? error).split('\n')[0];
  return `${what} ${JSON.stringify(path)}: ${reason}`;
}
