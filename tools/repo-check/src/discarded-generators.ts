import { join } from 'node:path';
import ts from 'typescript';
import type { Problem } from './repo-files.js';

/** Types whose value does nothing until someone iterates it. */
const LAZY = new Set([
  'Generator',
  'AsyncGenerator',
  'Iterator',
  'IterableIterator',
  'IteratorObject',
  'AsyncIterator',
]);

function isLazy(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isLazy);
  const name = (type.aliasSymbol ?? type.getSymbol())?.getName();
  if (name !== undefined && LAZY.has(name)) return true;
  const target = (type as ts.TypeReference).target;
  const targetName = target?.getSymbol()?.getName();
  return targetName !== undefined && LAZY.has(targetName);
}

/**
 * Calls whose result is a generator and is thrown away: `foldLock(ctx);` as a statement.
 * A generator's body runs only when iterated, so such a call does nothing at all; the
 * caller meant `yield* foldLock(ctx)`. `void f()` marks a deliberate discard.
 */
export function discardedGeneratorCalls(
  program: ts.Program,
  root: string,
  include: (file: string) => boolean = () => true,
): Problem[] {
  const checker = program.getTypeChecker();
  const problems: Problem[] = [];
  for (const source of program.getSourceFiles()) {
    if (source.isDeclarationFile || source.fileName.includes('/node_modules/')) continue;
    const file = source.fileName.startsWith(root)
      ? source.fileName.slice(root.length).replace(/^\//, '')
      : source.fileName;
    if (!include(file)) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isExpressionStatement(node)) {
        let expr = node.expression;
        while (ts.isParenthesizedExpression(expr)) expr = expr.expression;
        if (ts.isCallExpression(expr) && isLazy(checker.getTypeAtLocation(expr))) {
          const { line } = source.getLineAndCharacterOfPosition(expr.getStart(source));
          const call = expr.expression.getText(source);
          problems.push({
            file,
            line: line + 1,
            message: `the generator returned by ${call}() is discarded: use yield* (or void)`,
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return problems;
}

/** The compiler options every package shares (tsconfig.base.json), without emitting. */
export function baseCompilerOptions(root: string): ts.CompilerOptions {
  const path = join(root, 'tsconfig.base.json');
  const read = ts.readConfigFile(path, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root);
  return { ...parsed.options, noEmit: true };
}
