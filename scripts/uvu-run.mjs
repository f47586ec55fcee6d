// Runs the given uvu test files in this process (as uvu's CLI does), for scripts/test.mjs.
import { pathToFileURL } from "node:url";
globalThis.UVU_DEFER = 1;
const uvu = await import("uvu");
let idx = 0;
for (const file of process.argv.slice(2)) {
  globalThis.UVU_INDEX = idx++;
  globalThis.UVU_QUEUE.push([file.replace(/^.*\/test\//, "")]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);
