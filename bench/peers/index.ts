// Peer registry for the benches: loadPeers() creates the requested peers, skipping (with one line on
// stderr) any that fails to load, e.g. a missing package or a .wasm that will not instantiate.
// Each peer module is imported lazily so that a broken dependency cannot break the others.
import type { Peer } from './types.js';

export type { MhaWeights, Peer, Runner, Tensor } from './types.js';

export const PEER_NAMES = ['onnxruntime-web', 'tfjs-wasm', 'plain-js'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

const factories: Record<PeerName, () => Promise<Peer>> = {
  'onnxruntime-web': async () => (await import('./ort.js')).createOrtPeer(),
  'tfjs-wasm': async () => (await import('./tfjs.js')).createTfjsPeer(),
  'plain-js': async () => (await import('./plain.js')).createPlainPeer(),
};

/** Create the named peers (default: all), in the order given; failures are warned about and skipped. */
export async function loadPeers(names: string[] = [...PEER_NAMES]): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const name of names) {
    const create = factories[name as PeerName];
    if (!create) {
      console.warn(`peers: unknown peer "${name}" skipped (known: ${PEER_NAMES.join(', ')})`);
      continue;
    }
    try {
      peers.push(await create());
    } catch (e) {
      console.warn(`peers: ${name} failed to load, skipped: ${e instanceof Error ? e.message : String(e)}`.split('\n')[0]);
    }
  }
  return peers;
}
