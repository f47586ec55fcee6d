export interface Tensor { data: Float32Array; shape: number[] }
/** PyTorch nn.MultiheadAttention weights: y = x·Wᵀ + b. inProjWeight [3E, E] = q,k,v stacked by rows; inProjBias [3E]; outProjWeight [E, E]; outProjBias [E]. */
export interface MhaWeights { inProjWeight: Float32Array; inProjBias: Float32Array; outProjWeight: Float32Array; outProjBias: Float32Array }
/** A prepared computation; returns the output (row-major). Everything it needs (sessions, uploaded weights/inputs) is prepared beforehand. */
export type Runner = () => Float32Array | Promise<Float32Array>;
export interface Peer {
  name: string;                       // 'onnxruntime-web', 'tfjs-wasm', 'plain-js'
  /** C[M,N] = A[M,K]·B[K,N], row-major */
  matmul?(a: Tensor, b: Tensor): Promise<Runner>;
  /** softmax over the last axis */
  softmax?(x: Tensor): Promise<Runner>;
  /** q [B,H,L,D], k [B,H,S,D], v [B,H,S,D] → [B,H,L,D]; softmax(q·kᵀ/√D)·v; causal = bottom-right aligned (query i sees key j iff j ≤ i + S − L) */
  sdpa?(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean }): Promise<Runner>;
  /** Self-attention layer like torch.nn.MultiheadAttention(batch_first=True) with numHeads heads: x [B,L,E] → [B,L,E]; causal optional (L = S so standard lower triangle) */
  mha?(x: Tensor, w: MhaWeights, numHeads: number, opts: { causal: boolean }): Promise<Runner>;
  /** One decode step: x [B,1,E] is the new token; pastKey/pastValue [B,H,P,D] are the cached (already projected) keys/values of P earlier tokens. Output [B,1,E]: the new token attends over the P cached keys plus its own projected key (P+1 keys, no mask needed). */
  decode?(x: Tensor, pastKey: Tensor, pastValue: Tensor, w: MhaWeights, numHeads: number): Promise<Runner>;
  dispose?(): Promise<void>;
}
