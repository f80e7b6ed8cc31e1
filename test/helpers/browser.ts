// Headless Chromium from the system's package, driven by playwright-core.
// chromium.launch gives every browser a fresh profile in a new temporary
// folder of its own (playwright refuses a --user-data-dir in args), so no
// test sees another's cache or storage.
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
