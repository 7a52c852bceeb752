/** Page entry: builds the App, wires the controls, and publishes window.auralscope. */
import { App } from './app';
import type { AuralscopeApi, SourceKind } from '../shared/api';
import { Controls, type TourState } from './controls';
import { SHORTCUTS } from './keys';
import type { Settings } from './settings';

/** UI hooks for tests and the soak script (not part of the scripting API). */
export interface AuralscopeUi {
  /** Frame interval of the render loop (requestAnimationFrame deltas), ms. */
  frameStats(): { medianMs: number; p95Ms: number; fps: number; frames: number; paintMedianMs: number; renderMedianMs: number };
  /** GPU textures the views own (heatmaps and colour maps). */
  textureCount(): number;
  /** Centre of a feature tile in page pixels, or null when not drawn. */
  tileCenter(feature: number): { x: number; y: number } | null;
  /** Each view's rectangle in page pixels (spectrogram, grid, map, deconv, mask, predictions). */
  viewRects(): Record<string, { x: number; y: number; w: number; h: number }> | null;
  tour(): TourState;
  settings(): Settings;
  /** Every shortcut's keys as the help overlay lists them. */
  shortcuts(): string[];
}

declare global {
  interface Window {
    auralscope: AuralscopeApi;
    auralscopeUi: AuralscopeUi;
  }
}

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html: expected an element #${id}, found none`);
  return el as T;
}

const app = new App({
  stage: $('stage'),
  message: $('message'),
  start: $<HTMLButtonElement>('start'),
  status: $('status'),
  meterFill: $('meter-fill'),
  meterText: $('meter-text'),
});
window.auralscope = app;

const sourceSel = $<HTMLSelectElement>('source');
const deviceWrap = $('device-wrap');
const deviceSel = $<HTMLSelectElement>('device');
const fileInput = $<HTMLInputElement>('file');
const fileControls = $('file-controls');
const playBtn = $<HTMLButtonElement>('play');
const loopBox = $<HTMLInputElement>('loop');
const seek = $<HTMLInputElement>('seek');
const sinkWrap = $('sink-wrap');
const sinkSel = $<HTMLSelectElement>('sink');
const modelFiles = $<HTMLInputElement>('model-files');
modelFiles.addEventListener('change', () => {
  const picked = Array.from(modelFiles.files ?? []);
  if (picked.length === 0) return;
  void Promise.all(picked.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })))
    .then((files) => app.loadModelFiles(files))
    .catch(() => undefined) // the app shows the reason and keeps the previous model
    .finally(() => (modelFiles.value = ''));
});
let fileUrl: string | null = null;

/** Fills the input and output pickers (labels appear only after microphone permission). */
async function fillDevices(): Promise<void> {
  const devices = await navigator.mediaDevices?.enumerateDevices?.() ?? [];
  const fill = (sel: HTMLSelectElement, kind: MediaDeviceKind, fallback: string) => {
    const keep = sel.value;
    sel.replaceChildren();
    for (const d of devices.filter((x) => x.kind === kind)) {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `${fallback} ${sel.length + 1}`;
      sel.appendChild(o);
    }
    if (keep) sel.value = keep;
  };
  fill(deviceSel, 'audioinput', 'Input');
  fill(sinkSel, 'audiooutput', 'Output');
  sinkWrap.hidden = !app.status().capabilities.setSinkId || sinkSel.length === 0;
}

function showControlsFor(kind: SourceKind): void {
  deviceWrap.hidden = kind !== 'mic';
  fileControls.hidden = kind !== 'file';
  sourceSel.value = kind;
  monitorBox.checked = kind !== 'mic';
}

sourceSel.addEventListener('change', () => {
  const kind = sourceSel.value as SourceKind;
  if (kind === 'file') {
    fileInput.click();
    return;
  }
  void app.setSource({ kind, deviceId: kind === 'mic' ? deviceSel.value || undefined : undefined })
    .then(() => (kind === 'mic' ? fillDevices() : undefined))
    .then(() => showControlsFor(kind), () => showControlsFor(app.status().source === 'none' ? kind : app.status().source as SourceKind));
});
deviceSel.addEventListener('change', () => void app.setSource({ kind: 'mic', deviceId: deviceSel.value }).catch(() => undefined));
fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  if (fileUrl) URL.revokeObjectURL(fileUrl);
  fileUrl = URL.createObjectURL(file);
  void app.setSource({ kind: 'file', url: fileUrl, name: file.name }).then(() => showControlsFor('file'), () => undefined);
});
playBtn.addEventListener('click', () => {
  const m = app.audio?.media;
  if (!m) return;
  if (m.paused) void m.play();
  else m.pause();
  playBtn.textContent = m.paused ? 'Play' : 'Pause';
});
loopBox.addEventListener('change', () => {
  const m = app.audio?.media;
  if (m) m.loop = loopBox.checked;
});
seek.addEventListener('input', () => {
  const m = app.audio?.media;
  if (m && Number.isFinite(m.duration)) m.currentTime = Number(seek.value) * m.duration;
});
setInterval(() => {
  const m = app.audio?.media;
  if (m && Number.isFinite(m.duration) && document.activeElement !== seek) seek.value = String(m.currentTime / m.duration);
}, 250);
const monitorBox = $<HTMLInputElement>('monitor');
monitorBox.addEventListener('change', () => app.setMonitor(monitorBox.checked));
sinkSel.addEventListener('change', () => void app.audio?.setSink(sinkSel.value).catch((err: unknown) => console.warn('output device', err)));
const params = new URLSearchParams(location.search);
const booth = params.has('booth');
const tourParam = Number(params.get('tour'));
const controls = new Controls(app, {
  model: $('model'), backend: $('backend'), layer: $('layer'), feature: $('feature'), method: $('method'),
  colormap: $('colormap'), solo: $('solo'), soloMode: $('solo-mode'), rectify: $('rectify'), latencyMode: $('latency-mode'),
  mix: $('mix'), volume: $('volume'), freeze: $('freeze'), fullscreen: $('fullscreen'), helpButton: $('help-button'),
  reset: $('reset'), record: $('record'), play: $('play'), statusUi: $('status-ui'), help: $('help'), helpList: $('help-list'),
  caption: $('caption'), boothLog: $('booth-log'),
}, booth, params.has('tour') && tourParam >= 2 ? tourParam : null);
$('help-close').addEventListener('click', () => $('help-button').click());
$('record').addEventListener('click', () => controls.record());
window.auralscopeUi = {
  frameStats: () => app.view?.frameStats() ?? { medianMs: 0, p95Ms: 0, fps: 0, frames: 0, paintMedianMs: 0, renderMedianMs: 0 },
  textureCount: () => app.view?.textureCount ?? 0,
  tileCenter: (k) => app.view?.tileCenter(k) ?? null,
  viewRects: () => app.view?.viewRects() ?? null,
  tour: () => controls.tourState(),
  settings: () => ({ ...controls.settings }),
  shortcuts: () => SHORTCUTS.map((s) => s.keys),
};

const initial = (params.get('source') ?? (booth ? 'demo' : controls.settings.source)) as SourceKind;
void app.boot({ kind: ['mic', 'file', 'demo'].includes(initial) ? initial : 'demo' }).then(() => {
  controls.start();
  showControlsFor(app.status().source === 'none' ? initial : app.status().source as SourceKind);
  void fillDevices();
}, (err: unknown) => {
  console.error(err);
  const m = $('message');
  m.hidden = false;
  m.className = 'error';
  m.textContent = `Auralscope could not start: ${err instanceof Error ? err.message : String(err)}`;
});
