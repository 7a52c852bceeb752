/** The shared shape of a CLI command: parse argv, run, map errors to exit codes and messages. */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** node:util parseArgs over argv with positionals allowed; its errors become UsageErrors (usage, exit 2). */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true as const, options });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An integer option >= min; a UsageError naming the option otherwise. */
export function intArg(v: string | undefined, name: string, min: number): number {
  if (v === undefined) throw new UsageError(`--${name}: expected an integer >= ${min}, got nothing`);
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

/**
 * Runs one command: a parse error prints the message and the usage (exit 2); a UsageError while
 * running does the same; any other error prints its message (exit 1); otherwise the run's code.
 */
export async function runCommand<O>(name: string, usage: string, argv: string[], parse: (argv: string[]) => O, run: (opts: O) => Promise<number>): Promise<number> {
  let opts: O;
  try {
    opts = parse(argv);
  } catch (e) {
    console.error(`${name}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  try {
    return await run(opts);
  } catch (e) {
    console.error(`${name}: ${(e as Error).message}${e instanceof UsageError ? `\n\n${usage}` : ''}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
