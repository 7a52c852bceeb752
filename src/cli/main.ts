/** Command-line entry (Node, tfjs-wasm): `npm run cli -- <command> ...`. Thin: commands live in their own modules. */
import { ATLAS_USAGE, runAtlas } from './atlas';
import { AURALISE_USAGE, runAuralise } from './auralise';
import { EXPLAIN_USAGE, runExplain } from './explain';
import { IMPORT_KERAS_USAGE, runImportKeras } from './import-keras';
import { LABEL_FEATURES_USAGE, runLabelFeatures } from './label-features';

const USAGE = `usage: npm run cli -- <command> [options]

commands:
  explain          project one feature (or label) of the model onto a WAV file's spectrogram
  auralise         resynthesise one feature (or label) of a WAV file as sound (solo, rectified, mute)
  atlas            every feature of every layer for a few songs: images, sounds and an offline page
  label-features   probe-sound analysis of every feature, labels written into the model's manifest
  import-keras     convert Choi's released Keras weights (compact_cnn, MusicTaggerCNN) into a model folder

${EXPLAIN_USAGE}

${AURALISE_USAGE}

${ATLAS_USAGE}

${LABEL_FEATURES_USAGE}

${IMPORT_KERAS_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'explain':
      return runExplain(rest);
    case 'auralise':
      return runAuralise(rest);
    case 'atlas':
      return runAtlas(rest);
    case 'label-features':
      return runLabelFeatures(rest);
    case 'import-keras':
      return runImportKeras(rest);
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`cli: expected a command (explain, auralise, atlas, label-features, import-keras), got '${command}'\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
