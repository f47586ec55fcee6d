// Types of chromium.mjs's exports that TypeScript code uses (bench/browser.ts).
import type { Browser, LaunchOptions } from "playwright-core";

/** The Chromium binary: CHROMIUM_PATH, else @sparticuz/chromium's, unpacked on the first call. */
export function chromiumPath(): Promise<string>;
/** Headless Chromium through playwright-core with minimal flags; `args` are appended to them. */
export function launchChromium(options?: LaunchOptions & { args?: string[] }): Promise<Browser>;
