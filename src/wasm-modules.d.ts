// A `.wasm` imported as a module: workerd, wrangler and the Workers-style bundlers give a compiled
// WebAssembly.Module (src/workerd.ts relies on it; no other entry imports a .wasm).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
