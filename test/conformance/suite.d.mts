// Types of suite.mjs for the TypeScript tests that import it (test/conformance/suite.test.ts).
export interface CaseResult { name: string; digest?: string; n?: number; samples?: number[]; diff?: number; tol?: number; ok: boolean; error?: string }
export interface BuildResult { build: string; info?: unknown; cases?: CaseResult[]; error?: string; errorName?: string }
export function mulberry32(seed: number): () => number;
export function fnv1a(arrays: ArrayBufferView[]): string;
export const CASE_NAMES: string[];
export function runConformance(api: unknown, builds: string[], sourceFor?: (build: string) => unknown): Promise<{ builds: BuildResult[] }>;
