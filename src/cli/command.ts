/** The shared shape of a CLI command: parse argv, run, map errors to exit codes and messages. */
import { UsageError } from './explain';

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
