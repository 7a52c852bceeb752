import { defineConfig, type Plugin } from 'vite';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** Cross-origin isolation: SharedArrayBuffer needs both headers (dev server, preview and hosting). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const ROOT = resolve(import.meta.dirname);
const WASM_DIR = join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

/** Files the app serves itself (no network at run time): models/** and tfjs-backend-wasm's .wasm files. */
function servedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string, urlBase: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name);
      if (statSync(abs).isDirectory()) walk(abs, `${urlBase}${name}/`);
      else files.set(`${urlBase}${name}`, abs);
    }
  };
  walk(join(ROOT, 'models'), 'models/');
  for (const name of readdirSync(WASM_DIR)) if (name.endsWith('.wasm')) files.set(`tfjs/${name}`, join(WASM_DIR, name));
  return files;
}

const TYPES: Record<string, string> = { json: 'application/json', wasm: 'application/wasm', bin: 'application/octet-stream' };

/** Serves models/ and the tfjs wasm binaries in dev and preview, and copies them into the build. */
function appFiles(): Plugin {
  const middleware = (req: { url?: string }, res: { setHeader(k: string, v: string): void; end(b: Buffer): void }, next: () => void) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\//, '');
    const file = servedFiles().get(path);
    if (!file || relative(ROOT, file).startsWith(`..${sep}`)) return next();
    res.setHeader('Content-Type', TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream');
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    res.end(readFileSync(file));
  };
  return {
    name: 'auralscope-app-files',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
    generateBundle() {
      for (const [fileName, abs] of servedFiles()) this.emitFile({ type: 'asset', fileName, source: readFileSync(abs) });
    },
  };
}

export default defineConfig({
  plugins: [appFiles()],
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  // standardized-audio-context's addModule loads the worklet as a classic script, so workers and
  // worklets are emitted as IIFE bundles (imported with `?worker&url` / `?worker`).
  worker: { format: 'iife' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4096 },
});
