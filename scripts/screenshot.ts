/** Saves docs/screenshot.png: the built app (run `npm run build` first) on the demo piece in headless Chromium. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, openApp, ROOT, serve } from '../test/browser/harness';

const out = process.argv[2] ?? join(ROOT, 'docs', 'screenshot.png');
const query = process.argv[3] ?? '';
const server = await serve({ isolated: true });
const browser = await launch();
try {
  const { page } = await openApp(browser, server.url, query);
  await page.setViewportSize({ width: 1280, height: 720 });
  await new Promise((r) => setTimeout(r, 5000));
  mkdirSync(join(out, '..'), { recursive: true });
  await page.screenshot({ path: out });
  console.log(`saved ${out}`);
} finally {
  await browser.close();
  await server.close();
}
