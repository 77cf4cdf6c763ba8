// Which Chromium the browser tests use: $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else
// Playwright's own download (undefined: Playwright picks its cached browser).
import { existsSync } from 'node:fs';

export function chromiumExecutable() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p) => p && existsSync(p));
}
