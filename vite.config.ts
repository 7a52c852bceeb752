import { defineConfig } from 'vite';

/** Cross-origin isolation: SharedArrayBuffer needs both headers (dev server, preview and hosting). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  // standardized-audio-context's addModule loads the worklet as a classic script, so workers and
  // worklets are emitted as IIFE bundles (imported with `?worker&url` / `?worker`).
  worker: { format: 'iife' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4096 },
});
