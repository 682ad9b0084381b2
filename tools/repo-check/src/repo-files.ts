import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tools/repo-check/src/repo-files.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The repository's files, tracked or not yet added, without what .gitignore ignores:
 * what a fresh clone has, plus work in progress.
 */
export function repoFiles(root: string = REPO_ROOT): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .split('\n')
    .filter((f) => f !== '' && existsSync(`${root}/${f}`))
    .sort();
}

/** Reads a repository file as text. */
export function readRepoFile(path: string, root: string = REPO_ROOT): string {
  return readFileSync(`${root}/${path}`, 'utf8');
}

/** One thing a check found wrong, at a place a reader can open. */
export interface Problem {
  readonly file: string;
  /** 1-based; 0 when the problem is the file as a whole. */
  readonly line: number;
  readonly message: string;
}

/** `file:line: message`, one per line. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
}
