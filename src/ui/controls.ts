/**
 * The instrument's controls: pickers (model, backend, layer, feature, method, colour map, solo),
 * the keyboard, the help overlay, settings (localStorage + URL hash), the UI half of the status
 * strip, and booth mode (kiosk layout, auto-tour with a caption, volume ceiling, self-recovery and
 * an on-screen log).
 */
import { METHOD_NAMES, type BackendName, type ModelInfo, type SelectionRequest, type Status } from '../shared/api';
import type { App } from './app';
import { COLORMAPS } from './colormap';
import { featureCaption, layerName } from './feature-views';
import { SHORTCUTS, shortcutFor, type ShortcutAction } from './keys';
import { DEFAULT_SETTINGS, resolveSettings, STORAGE_KEY, toHash, type Settings } from './settings';

/** Booth output ceiling: the master volume never goes above this in booth mode. */
export const BOOTH_VOLUME_CEILING = 0.7;
/** Lines of the booth's on-screen log. */
const BOOTH_LOG_LINES = 8;

/** DOM elements the controls drive. */
export interface ControlElements {
  model: HTMLSelectElement;
  backend: HTMLSelectElement;
  layer: HTMLSelectElement;
  feature: HTMLInputElement;
  method: HTMLSelectElement;
  colormap: HTMLSelectElement;
  solo: HTMLInputElement;
  soloMode: HTMLSelectElement;
  rectify: HTMLInputElement;
  latencyMode: HTMLSelectElement;
  mix: HTMLInputElement;
  volume: HTMLInputElement;
  freeze: HTMLButtonElement;
  fullscreen: HTMLButtonElement;
  helpButton: HTMLButtonElement;
  reset: HTMLButtonElement;
  record: HTMLButtonElement;
  play: HTMLButtonElement;
  statusUi: HTMLElement;
  help: HTMLElement;
  helpList: HTMLElement;
  caption: HTMLElement;
  boothLog: HTMLElement;
}

/** What the booth tour is doing (window.auralscopeUi.tour()). */
export interface TourState {
  running: boolean;
  steps: number;
  caption: string;
  lastStepMs: number;
  seconds: number;
}

export class Controls {
  settings: Settings;
  private model: ModelInfo | null = null;
  private lastEngineSelection = '';
  private pendingSelection = false;
  private selectionSeq = 0;
  /** The wanted selection has not reached the engine yet. */
  private selectionDirty = false;
  private lastReapplyMs = 0;
  private status: Status | null = null;
  private pollTimer = 0;
  private tourTimer = 0;
  private saveTimer = 0;
  private readonly tour: TourState = { running: false, steps: 0, caption: '', lastStepMs: 0, seconds: 8 };
  private readonly visited = new Map<number, number[]>();
  private readonly energies = new Map<number, Float32Array>();
  private abMix = 1;
  private lastLogKey = '';
  private lastResumeMs = 0;
  private recording = false;

  constructor(private readonly app: App, private readonly el: ControlElements, readonly booth: boolean, tourSeconds: number | null) {
    this.settings = resolveSettings(safeStorageGet(), location.hash);
    if (tourSeconds !== null) this.settings.tourSeconds = tourSeconds;
    this.tour.seconds = this.settings.tourSeconds;
    if (booth) {
      document.body.classList.add('booth');
      app.volumeCeiling = BOOTH_VOLUME_CEILING; // scripts too
      this.settings.volume = Math.min(this.settings.volume, BOOTH_VOLUME_CEILING);
      if (this.settings.mix === 0) this.settings.mix = 0.85;
      el.volume.max = String(BOOTH_VOLUME_CEILING);
    }
    this.buildStaticPickers();
    this.buildHelp();
    this.wire();
  }

  /** Called once the app has booted: applies the settings and starts polling. */
  start(): void {
    const s = this.settings;
    const view = this.app.view;
    if (view) {
      view.booth = this.booth;
      view.colormap = s.colormap;
      view.onPick = (k) => this.setFeature(k);
      view.relayout();
    }
    this.applyMixVolume();
    void this.fillModels();
    if (this.booth) {
      this.app.onSourceProblem = (text) => this.boothSourceProblem(text);
      this.setTour(true);
    }
    this.pollTimer = window.setInterval(() => this.poll(), 250);
    this.poll();
  }

  // ---- pickers -----------------------------------------------------------------------------

  private buildStaticPickers(): void {
    const fill = (sel: HTMLSelectElement, values: readonly string[], label: (v: string) => string = (v) => v) => {
      sel.replaceChildren(...values.map((v) => new Option(label(v), v)));
    };
    fill(this.el.method, METHOD_NAMES);
    fill(this.el.colormap, COLORMAPS);
    fill(this.el.backend, ['auto', 'webgpu', 'wasm', 'webgl', 'cpu']);
    fill(this.el.soloMode, ['solo', 'mute'], (v) => (v === 'solo' ? 'solo (the feature)' : 'mute (all but it)'));
    fill(this.el.latencyMode, ['exact', 'low']);
    this.el.method.value = this.settings.method;
    this.el.colormap.value = this.settings.colormap;
    this.el.layer.replaceChildren(new Option('(no model)', '0'));
    this.el.feature.value = String(this.settings.feature);
  }

  /** The model picker: models/index.json's list, or just the running model. */
  private async fillModels(): Promise<void> {
    let ids: string[] = [];
    let def = '';
    try {
      const res = await fetch('models/index.json');
      if (res.ok) {
        const index = (await res.json()) as { default?: string; models?: (string | { id: string; name?: string })[] };
        def = index.default ?? '';
        ids = (index.models ?? []).map((m) => (typeof m === 'string' ? m : m.id));
        if (def && !ids.includes(def)) ids.unshift(def);
      }
    } catch {
      // No index: the picker shows the running model only.
    }
    const sel = this.el.model;
    sel.replaceChildren(...ids.map((id) => new Option(id === def ? `${id} (default)` : id, id)));
    if (ids.length === 0) sel.replaceChildren(new Option('default', ''));
    sel.disabled = ids.length < 2;
    const current = this.model?.id ?? new URLSearchParams(location.search).get('model') ?? def;
    if (current) sel.value = current;
  }

  private fillLayers(model: ModelInfo | null): void {
    const sel = this.el.layer;
    if (!model) {
      sel.replaceChildren(new Option('(no model)', '0'));
      return;
    }
    sel.replaceChildren(...model.layers.map((l, i) => new Option(`${i + 1}: ${l.displayName || l.name} (${l.channels})`, String(i))));
    sel.value = String(this.settings.layer);
  }

  private wire(): void {
    const el = this.el;
    el.layer.addEventListener('change', () => this.setLayer(Number(el.layer.value)));
    el.feature.addEventListener('change', () => this.setFeature(Number(el.feature.value)));
    el.method.addEventListener('change', () => this.setMethod(el.method.value as Settings['method']));
    el.colormap.addEventListener('change', () => this.setColormap(el.colormap.value as Settings['colormap']));
    el.solo.addEventListener('change', () => void this.engineCall('solo', () => this.app.setSolo(el.solo.checked)));
    el.soloMode.addEventListener('change', () => void this.engineCall('solo mode', () => this.app.setSoloMode(el.soloMode.value as 'solo' | 'mute')));
    el.rectify.addEventListener('change', () => void this.engineCall('rectify', () => this.app.setRectify(el.rectify.checked)));
    el.latencyMode.addEventListener('change', () => void this.engineCall('latency mode', () => this.app.setLatencyMode(el.latencyMode.value as 'exact' | 'low')));
    el.backend.addEventListener('change', () => void this.app.setBackend(el.backend.value as BackendName).catch((e: unknown) => this.fail('backend', e)));
    el.model.addEventListener('change', () => {
      if (el.model.value) void this.app.loadModel(`models/${el.model.value}/`).catch(() => undefined);
    });
    el.mix.addEventListener('input', () => this.setMix(Number(el.mix.value)));
    el.volume.addEventListener('input', () => this.setVolume(Number(el.volume.value)));
    el.freeze.addEventListener('click', () => this.toggleFreeze());
    el.fullscreen.addEventListener('click', () => this.toggleFullscreen());
    el.helpButton.addEventListener('click', () => this.toggleHelp());
    el.reset.addEventListener('click', () => this.reset());
    el.help.addEventListener('click', (e) => {
      if (e.target === el.help) this.toggleHelp(false);
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
    document.addEventListener('fullscreenchange', () => {
      el.fullscreen.setAttribute('aria-pressed', String(!!document.fullscreenElement));
    });
  }

  // ---- actions -----------------------------------------------------------------------------

  private fail(what: string, err: unknown): void {
    console.warn(`Auralscope: ${what} failed:`, err instanceof Error ? err.message : String(err));
  }

  /**
   * Calls the engine; while the worker restarts (a crash, the watchdog) a call rejects, so it is
   * retried every second, 10 times at most. Range errors are final. Resolves true on success.
   */
  private async engineCall(what: string, call: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await call();
        return true;
      } catch (err) {
        if (err instanceof RangeError || (err instanceof Error && err.name === 'RangeError') || attempt >= 9) {
          this.fail(what, err);
          return false;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Sends the settings' selection to the engine (clamped to the running model). */
  private applySelection(): void {
    const model = this.model;
    if (!model) return;
    const s = this.settings;
    s.layer = Math.min(Math.max(0, s.layer), model.layers.length - 1);
    s.feature = Math.min(Math.max(0, s.feature), model.layers[s.layer].channels - 1);
    this.el.layer.value = String(s.layer);
    this.el.feature.value = String(s.feature);
    this.el.feature.max = String(model.layers[s.layer].channels - 1);
    this.el.method.value = s.method;
    const sel: SelectionRequest = { layer: s.layer, feature: s.feature, method: s.method };
    this.pendingSelection = true;
    const seq = ++this.selectionSeq;
    // A newer selection supersedes this one's retries.
    this.selectionDirty = false;
    void this.engineCall('select', () => (seq === this.selectionSeq ? this.app.select(sel) : Promise.resolve())).then((ok) => {
      // Not applied (the worker was restarting for long): poll() sends it again once the engine runs.
      if (seq === this.selectionSeq && !ok) this.selectionDirty = true;
    }).finally(() => {
      if (seq === this.selectionSeq) this.pendingSelection = false;
    });
    if (!this.tour.running) this.showCaption();
    this.save();
  }

  setLayer(layer: number): void {
    if (!this.model || layer < 0 || layer >= this.model.layers.length) return;
    if (layer !== this.settings.layer) this.settings.feature = Math.min(this.settings.feature, this.model.layers[layer].channels - 1);
    this.settings.layer = layer;
    this.applySelection();
  }

  setFeature(feature: number): void {
    if (!Number.isInteger(feature)) return;
    this.settings.feature = feature;
    this.applySelection();
  }

  private stepFeature(delta: number): void {
    const n = this.model?.layers[this.settings.layer]?.channels ?? 1;
    this.setFeature((((this.settings.feature + delta) % n) + n) % n);
  }

  setMethod(method: Settings['method']): void {
    this.settings.method = method;
    this.applySelection();
  }

  private setColormap(name: Settings['colormap']): void {
    this.settings.colormap = name;
    this.el.colormap.value = name;
    const view = this.app.view;
    if (view) view.colormap = name;
    this.save();
  }

  private setMix(x: number): void {
    this.settings.mix = Math.min(1, Math.max(0, Math.round(x * 100) / 100));
    this.applyMixVolume();
    this.save();
  }

  private setVolume(x: number): void {
    this.settings.volume = Math.min(this.booth ? BOOTH_VOLUME_CEILING : 1, Math.max(0, x));
    this.applyMixVolume();
    this.save();
  }

  private applyMixVolume(): void {
    const s = this.settings;
    if (this.booth) s.volume = Math.min(s.volume, BOOTH_VOLUME_CEILING);
    this.el.mix.value = String(s.mix);
    this.el.volume.value = String(s.volume);
    this.el.mix.setAttribute('aria-valuetext', `${Math.round(s.mix * 100)}% resynthesis`);
    this.app.setMix(s.mix);
    this.app.setVolume(s.volume);
  }

  private toggleFreeze(): void {
    const view = this.app.view;
    if (!view) return;
    view.frozen = !view.frozen;
    this.el.freeze.setAttribute('aria-pressed', String(view.frozen));
    this.el.freeze.textContent = view.frozen ? 'Frozen' : 'Freeze';
  }

  private toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    else void document.documentElement.requestFullscreen?.().catch((e: unknown) => this.fail('fullscreen', e));
  }

  private toggleHelp(show = this.el.help.hidden): void {
    this.el.help.hidden = !show;
    this.el.helpButton.setAttribute('aria-expanded', String(show));
    if (show) (this.el.help.querySelector('button') ?? this.el.help).focus();
    else this.el.helpButton.focus();
  }

  private async toggleSolo(): Promise<void> {
    const on = !this.app.status().solo.on; // fresh: the poll may lag a toggle made a moment ago
    await this.engineCall('solo', () => this.app.setSolo(on));
  }

  /** Records 10 s of the output to a WAV named with date, layer, feature and method. */
  record(): void {
    if (this.recording) return;
    this.recording = true;
    const btn = this.el.record;
    btn.disabled = true;
    btn.textContent = 'Recording…';
    const s = this.settings;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const solo = this.status?.solo.on ? `${this.status.solo.mode}-` : '';
    const name = `auralscope-${stamp}-layer${s.layer + 1}-feature${s.feature}-${s.method}-${solo}output.wav`;
    void this.app.recordOutput(10).then((wav) => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([wav as BlobPart], { type: 'audio/wav' }));
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    }).catch((e: unknown) => this.fail('record', e)).finally(() => {
      this.recording = false;
      btn.disabled = false;
      btn.textContent = 'Record';
    });
  }

  private reset(): void {
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch {
      // storage unavailable: nothing to remove
    }
    const tour = this.settings.tourSeconds;
    this.settings = { ...DEFAULT_SETTINGS, tourSeconds: this.booth ? tour : DEFAULT_SETTINGS.tourSeconds };
    if (this.booth) this.settings.mix = 0.85;
    history.replaceState(null, '', location.pathname + location.search);
    this.setColormap(this.settings.colormap);
    this.applyMixVolume();
    this.applySelection();
  }

  // ---- keyboard ----------------------------------------------------------------------------

  private onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement | null;
    const typing = !!t && (t.tagName === 'INPUT' && (t as HTMLInputElement).type !== 'checkbox' && (t as HTMLInputElement).type !== 'range' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
    const sc = shortcutFor(e.key);
    if (!sc) return;
    // Form fields keep their own keys (arrows, typing); Escape and ? still work everywhere.
    if (typing && sc.action !== 'close' && sc.action !== 'help') return;
    if ((t?.tagName === 'INPUT' && (t as HTMLInputElement).type === 'range') && sc.action.startsWith('feature')) return;
    if (t?.tagName === 'BUTTON' && e.key === ' ') return;
    e.preventDefault();
    this.run(sc.action, e.key);
  }

  /** Performs a shortcut's action (also used by tests through the keyboard). */
  private run(action: ShortcutAction, key: string): void {
    switch (action) {
      case 'feature-prev': this.stepFeature(-1); break;
      case 'feature-next': this.stepFeature(1); break;
      case 'feature-up': this.stepFeature(-(this.app.view?.gridColumns ?? 1)); break;
      case 'feature-down': this.stepFeature(this.app.view?.gridColumns ?? 1); break;
      case 'layer': this.setLayer(Number(key) - 1); break;
      case 'solo': void this.toggleSolo(); break;
      case 'solo-mode': {
        const mode = this.app.status().solo.mode === 'mute' ? 'solo' : 'mute';
        void this.engineCall('solo mode', () => this.app.setSoloMode(mode));
        break;
      }
      case 'method': this.setMethod(METHOD_NAMES[(METHOD_NAMES.indexOf(this.settings.method) + 1) % METHOD_NAMES.length]); break;
      case 'freeze': this.toggleFreeze(); break;
      case 'play': {
        const m = this.app.audio?.media;
        if (m) {
          if (m.paused) void m.play();
          else m.pause();
          this.el.play.textContent = m.paused ? 'Play' : 'Pause';
        }
        break;
      }
      case 'record': this.record(); break;
      case 'mix-up': this.setMix(this.settings.mix + 0.1); break;
      case 'mix-down': this.setMix(this.settings.mix - 0.1); break;
      case 'ab': {
        // A/B: remember the mix and flip between all-wet (the solo) and all-dry.
        if (this.settings.mix > 0) {
          this.abMix = this.settings.mix;
          this.setMix(0);
        } else {
          this.setMix(this.abMix || 1);
        }
        break;
      }
      case 'colormap': this.setColormap(COLORMAPS[(COLORMAPS.indexOf(this.settings.colormap) + 1) % COLORMAPS.length]); break;
      case 'fullscreen': this.toggleFullscreen(); break;
      case 'tour': this.setTour(!this.tour.running); break;
      case 'help': this.toggleHelp(); break;
      case 'close': this.toggleHelp(false); break;
      default: {
        const never: never = action;
        throw new Error(`unknown shortcut action ${String(never)}`);
      }
    }
  }

  private buildHelp(): void {
    const rows = SHORTCUTS.map((s) => {
      const tr = document.createElement('tr');
      const k = document.createElement('th');
      k.scope = 'row';
      const kbd = document.createElement('kbd');
      kbd.textContent = s.keys;
      k.appendChild(kbd);
      const d = document.createElement('td');
      d.textContent = s.does;
      tr.append(k, d);
      tr.dataset.key = s.keys;
      return tr;
    });
    this.el.helpList.replaceChildren(...rows);
  }

  // ---- polling: model, selection, status strip, booth log ----------------------------------

  private poll(): void {
    const s = this.app.status();
    this.status = s;
    const model = s.model;
    if ((model?.id ?? null) !== (this.model?.id ?? null) || (model && this.model && model.layers.length !== this.model.layers.length)) {
      this.model = model;
      this.app.view?.setModel(model);
      this.fillLayers(model);
      if (model) {
        this.el.model.value = model.id;
        this.applySelection();
        if (this.booth && this.tour.running) this.tourStep();
      }
    }
    // Follow selections made elsewhere (the scripting API) unless ours is in flight or not yet applied.
    const es = s.selection;
    const key = es ? `${es.layer}/${es.feature}/${es.method}` : '';
    if (this.selectionDirty && !this.pendingSelection && s.ready && model && performance.now() - this.lastReapplyMs > 2000) {
      this.lastReapplyMs = performance.now();
      this.applySelection();
    } else if (es && key !== this.lastEngineSelection && !this.pendingSelection && !this.selectionDirty) {
      const mine = this.settings;
      if (es.layer !== mine.layer || es.feature !== mine.feature || es.method !== mine.method) {
        mine.layer = es.layer;
        mine.feature = es.feature;
        mine.method = es.method;
        this.el.layer.value = String(es.layer);
        this.el.feature.value = String(es.feature);
        this.el.method.value = es.method;
        if (!this.tour.running) this.showCaption();
        this.save();
      }
    }
    this.lastEngineSelection = key;
    this.el.solo.checked = s.solo.on;
    this.el.soloMode.value = s.solo.mode;
    this.el.rectify.checked = s.solo.rectify;
    this.el.latencyMode.value = s.solo.latencyMode;
    this.renderStatus(s);
    if (this.booth) {
      this.boothRecover(s);
      this.renderLog();
    }
    this.sampleEnergies();
  }

  private renderStatus(s: Status): void {
    const view = this.app.view;
    const fr = view?.frameStats();
    const layer = s.selection?.layer ?? this.settings.layer;
    const solo = s.latencyMs.soloByLayer[layer];
    const item = (k: string, v: string, bad = false) => `<span>${k} <b${bad ? ' class="bad"' : ''}>${v}</b></span>`;
    const parts = [
      item('fps', fr && fr.frames > 10 ? `${fr.fps.toFixed(0)} (p95 ${fr.p95Ms.toFixed(0)} ms)` : '…', !!fr && fr.frames > 10 && fr.fps < 30),
      item('solo', s.solo.on ? `${s.solo.mode}, ${s.solo.latencyMode}${s.solo.rectify ? ', rectified' : ''}` : 'off'),
      item('solo latency', solo !== undefined ? `${solo.toFixed(0)} ms (${layerName(s.model, layer)})` : '—'),
    ];
    if (s.source === 'mic' && s.solo.on && solo !== undefined) parts.push(item('note', `the solo is ${solo.toFixed(0)} ms behind the microphone`));
    if (view?.frozen) parts.push(item('visuals', 'frozen', true));
    const html = parts.join('');
    if (html !== this.el.statusUi.innerHTML) this.el.statusUi.innerHTML = html;
  }

  private showCaption(text?: string): void {
    const s = this.settings;
    const caption = text ?? (this.model ? `${featureCaption(this.model, s.layer, s.feature)} · ${s.method}` : '');
    this.el.caption.textContent = caption;
    this.el.caption.hidden = !this.booth || !caption;
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => {
      try {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(this.settings));
      } catch {
        // storage full or blocked: the hash still carries the settings
      }
      const hash = toHash(this.settings);
      history.replaceState(null, '', `${location.pathname}${location.search}${hash ? `#${hash}` : ''}`);
    }, 200);
  }

  // ---- booth -------------------------------------------------------------------------------

  /** Starts or stops the booth tour. */
  setTour(on: boolean): void {
    clearInterval(this.tourTimer);
    this.tour.running = on;
    if (on) {
      this.tourTimer = window.setInterval(() => this.tourStep(), this.tour.seconds * 1000);
      if (this.model) this.tourStep();
    } else {
      this.showCaption();
    }
  }

  /** Per-feature mean activation of the layer the frames now show (the tour prefers lively features). */
  private sampleEnergies(): void {
    const a = this.app.view?.latestAnalysis;
    if (!a || !this.tour.running) return;
    const per = a.thumbHeight * a.thumbWidth;
    const e = new Float32Array(a.channels);
    for (let c = 0; c < a.channels; c++) {
      let sum = 0;
      for (let i = c * per; i < (c + 1) * per; i++) sum += Math.abs(a.thumbnails[i]);
      e[c] = sum / per;
    }
    this.energies.set(a.layer, e);
  }

  /** One tour step: the next layer, its liveliest feature not shown lately, soloed. */
  private tourStep(): void {
    const model = this.model;
    if (!model) return;
    const layer = this.tour.steps === 0 ? this.settings.layer : (this.settings.layer + 1) % model.layers.length;
    const n = model.layers[layer].channels;
    const recent = this.visited.get(layer) ?? [];
    const e = this.energies.get(layer);
    let feature = -1;
    if (e && e.length === n) {
      let best = -1;
      for (let c = 0; c < n; c++) if (!recent.includes(c) && e[c] > best) { best = e[c]; feature = c; }
    }
    if (feature < 0) feature = (this.tour.steps * 7 + layer * 3 + 1) % n;
    recent.push(feature);
    if (recent.length > Math.min(4, n - 1)) recent.shift();
    this.visited.set(layer, recent);
    this.settings.layer = layer;
    this.settings.feature = feature;
    this.tour.steps++;
    this.tour.lastStepMs = performance.now();
    this.applySelection();
    this.tour.caption = featureCaption(model, layer, feature);
    this.showCaption(this.tour.caption);
    if (!this.status?.solo.on) void this.engineCall('solo', () => this.app.setSolo(true));
  }

  /** The booth's answer to an input that stopped: the demo piece plays instead. */
  private boothSourceProblem(text: string): void {
    if (/finished playing/.test(text)) return; // a file that ends on purpose
    this.boothNote(`Booth: the input stopped (${text.replace(/\.$/, '')}); switching to the demo piece.`);
    void this.app.setSource({ kind: 'demo' }).catch((e: unknown) => this.fail('demo source', e));
  }

  private boothNote(text: string): void {
    this.app.note(text);
  }

  /** Audio stopped (suspended or interrupted): try to resume, at most every 2 s. */
  private boothRecover(s: Status): void {
    const state: string = this.app.audio?.context.state ?? 'none';
    if (state !== 'suspended' && state !== 'interrupted') return;
    const now = performance.now();
    if (now - this.lastResumeMs < 2000) return;
    this.lastResumeMs = now;
    this.boothNote(`Booth: audio is ${state}; resuming it.`);
    void this.app.resume().catch(() => undefined);
    void s;
  }

  private renderLog(): void {
    const entries = this.app.log().slice(-BOOTH_LOG_LINES);
    const key = entries.map((e) => `${e.timeMs}${e.text}`).join('|');
    if (key === this.lastLogKey) return;
    this.lastLogKey = key;
    this.el.boothLog.replaceChildren(...entries.map((e) => {
      const li = document.createElement('li');
      li.className = e.level;
      li.textContent = `${(e.timeMs / 1000).toFixed(1)} s  ${e.text}`;
      return li;
    }));
  }

  /** The tour's state (for tests and the soak script). */
  tourState(): TourState {
    return { ...this.tour };
  }

  dispose(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.tourTimer);
    clearTimeout(this.saveTimer);
  }
}

function safeStorageGet(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
