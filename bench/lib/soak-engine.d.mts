// Types for soak-engine.mjs (used by the TypeScript soak test).

export declare const ENDINGS: readonly string[];

export interface OpSummary {
  started: number;
  neverCompleted: number;
  doubleCompletions: number;
  startedByKind: Record<string, number>;
  pendingByKind: Record<string, number>;
}

export interface EndingTally {
  n: number;
  ok: number;
  errors: Record<string, number>;
}

export interface SoakConfig {
  connections?: number;
  messages?: number;
  window?: number;
  connectConcurrency?: number;
  idleMs?: number;
  handshakeTimeoutMs?: number;
  phaseBoundMs?: number;
  drainBoundMs?: number;
  seed?: number;
  progress?: ((line: string) => void) | null;
}

export interface MemoryFigures {
  rss: number;
  heapAfterGc: number;
}

export interface SoakReport {
  mode: string;
  connections: number;
  messagesPerConnection: number;
  idleMs: number;
  seed: number;
  connected: number;
  openAtOnce: number;
  peakServerSessions: number;
  idleTimersSeenArmed: number;
  messages: { sent: number; echoedIntact: number; lost: number; corrupted: number; serverEchoed: number };
  endings: Record<string, { client: EndingTally; server: EndingTally }>;
  operations: { client: OpSummary; server: OpSummary; neverCompleted: number };
  streamsOpen: number;
  timersArmed: number;
  handlesLeft: Record<string, number>;
  memoryMiB: { before: MemoryFigures; after: MemoryFigures };
  uncaught: number;
  uncaughtMessages: string[];
  seconds: Record<string, number>;
  failures: string[];
  pass: boolean;
}

export declare function runSoak(cfg?: SoakConfig): Promise<SoakReport>;
export declare function ioResources(): Record<string, number>;
export declare function resourcesBeyond(
  after: Record<string, number>,
  baseline: Record<string, number>,
): Record<string, number>;
