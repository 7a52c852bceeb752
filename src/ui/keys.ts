/** Every keyboard shortcut, in the order the help overlay lists them (pure: one source of truth). */

/** One shortcut: the keys as shown, the KeyboardEvent.key values that trigger it, and what it does. */
export interface Shortcut {
  keys: string;
  match: readonly string[];
  action: ShortcutAction;
  does: string;
}

/** What a shortcut does. */
export type ShortcutAction =
  | 'feature-prev' | 'feature-next' | 'feature-up' | 'feature-down' | 'layer' | 'solo' | 'solo-mode' | 'method'
  | 'freeze' | 'play' | 'record' | 'mix-up' | 'mix-down' | 'ab' | 'colormap' | 'fullscreen' | 'tour' | 'help' | 'close';

/** The shortcuts. */
export const SHORTCUTS: readonly Shortcut[] = [
  { keys: '←', match: ['ArrowLeft'], action: 'feature-prev', does: 'previous feature of the layer' },
  { keys: '→', match: ['ArrowRight'], action: 'feature-next', does: 'next feature' },
  { keys: '↑', match: ['ArrowUp'], action: 'feature-up', does: 'feature one row up in the grid' },
  { keys: '↓', match: ['ArrowDown'], action: 'feature-down', does: 'feature one row down in the grid' },
  { keys: '1 – 9', match: ['1', '2', '3', '4', '5', '6', '7', '8', '9'], action: 'layer', does: 'choose layer 1 to 9' },
  { keys: 'S', match: ['s', 'S'], action: 'solo', does: 'solo the selected feature on / off' },
  { keys: 'O', match: ['o', 'O'], action: 'solo-mode', does: 'solo mode: solo (the feature) / mute (everything but it)' },
  { keys: 'M', match: ['m', 'M'], action: 'method', does: 'cycle the method: deconvnet, saliency, guided, gradcam' },
  { keys: 'F', match: ['f'], action: 'freeze', does: 'freeze the visuals (sound goes on)' },
  { keys: 'Space', match: [' '], action: 'play', does: 'play / pause (file source)' },
  { keys: 'R', match: ['r', 'R'], action: 'record', does: 'record 10 s of the output to a WAV file' },
  { keys: '+', match: ['+', '='], action: 'mix-up', does: 'mix towards the resynthesis / solo' },
  { keys: '−', match: ['-', '_'], action: 'mix-down', does: 'mix towards the dry input' },
  { keys: 'A', match: ['a', 'A'], action: 'ab', does: 'A/B: flip between the solo and the dry signal' },
  { keys: 'C', match: ['c', 'C'], action: 'colormap', does: 'cycle the colour map: magma, viridis, grey' },
  { keys: 'Shift + F', match: ['F'], action: 'fullscreen', does: 'fullscreen on / off' },
  { keys: 'T', match: ['t', 'T'], action: 'tour', does: 'booth tour on / off' },
  { keys: '?', match: ['?'], action: 'help', does: 'show / hide this list' },
  { keys: 'Esc', match: ['Escape'], action: 'close', does: 'close this list' },
];

/** The shortcut a KeyboardEvent.key triggers, or null. */
export function shortcutFor(key: string): Shortcut | null {
  return SHORTCUTS.find((s) => s.match.includes(key)) ?? null;
}
