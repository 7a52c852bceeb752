/** Command-line entry (Node, tfjs-wasm): `npm run cli -- <command> ...`. Thin: commands live in their own modules. */
import { EXPLAIN_USAGE, runExplain } from './explain';

const USAGE = `usage: npm run cli -- <command> [options]

commands:
  explain   project one feature (or label) of the model onto a WAV file's spectrogram

${EXPLAIN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'explain':
      return runExplain(rest);
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`cli: expected a command (explain), got '${command}'\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
