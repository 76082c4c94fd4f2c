// Types for fuzz-engine.mjs (used by the TypeScript reliability tests).

export declare class Rng {
  constructor(seed: number);
  next(): number;
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(arr: readonly T[]): T;
  bytes(n: number): Buffer;
  length(): number;
}

export interface FrameInit {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  key?: Buffer | null;
  payload?: Buffer;
}
export declare function buildFrame(init: FrameInit): Buffer;
export declare function validUnit(rng: Rng, masked: boolean): Buffer[];
export declare function mutateBytes(rng: Rng, bytes: Uint8Array, donor: Uint8Array | null): Buffer;
export declare function acceptFor(key: string): string;
export declare function validRequest(rng: Rng, host?: string): Buffer;
export declare function mutatedRequest(rng: Rng): Buffer;
export declare function scanFrames(
  buf: Buffer,
  expectMasked: boolean,
): { closePayload: Buffer | null; frames: number; maskViolation: boolean };
export declare function isValidClosePayload(p: Buffer): boolean;

export declare class OpTracker {
  started: number;
  completed: number;
  doubleCompletions: number;
  wrap<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  readonly pending: number;
}

export interface EchoServer {
  port: number;
  ops: OpTracker;
  stats: {
    accepted: number;
    acceptFailed: number;
    opened: number;
    ended: number;
    echoed: number;
    readErrors: Record<string, number>;
  };
  sessions: Set<unknown>;
  usesAcceptor: boolean;
  stop(): void;
}
export declare function startEchoServer(opts?: {
  handshakeTimeout?: number;
  idleMs?: number;
  readMessageMax?: number;
}): Promise<EchoServer>;

export interface ServerFuzzConfig {
  seed?: number;
  targetMutations?: number;
  maxConnections?: number;
  concurrency?: number;
  maxFramesPerConnection?: number;
  frameMutationRate?: number;
  handshakeMutationRate?: number;
  maxDelayMs?: number;
  boundMs?: number;
  handshakeTimeout?: number;
  progress?: ((r: ServerFuzzReport) => void) | null;
}
export interface ServerFuzzReport {
  connections: number;
  validHandshakes: number;
  mutatedHandshakes: number;
  upgraded: number;
  refusals: Record<string, number>;
  validFrames: number;
  mutatedFrames: number;
  resets: number;
  closedWithFrame: number;
  closedWithTcp: number;
  closeCodes: Record<string, number>;
  badCloseFrames: number;
  maskedFromServer: number;
  hung: number;
  maxCloseMs: number;
  goodRoundTrips: number;
  goodMismatches: number;
  goodFailures: number;
  connectFailures: number;
  usesAcceptor: boolean;
  server: EchoServer['stats'];
  serverOpsStarted: number;
  serverOpsPending: number;
  serverDoubleCompletions: number;
  liveSessions: number;
}
export declare function runServerFuzz(cfg?: ServerFuzzConfig): Promise<ServerFuzzReport>;

export interface ClientFuzzConfig {
  seed?: number;
  targetMutations?: number;
  maxConnections?: number;
  concurrency?: number;
  maxFramesPerConnection?: number;
  frameMutationRate?: number;
  handshakeMutationRate?: number;
  maxDelayMs?: number;
  boundMs?: number;
  clientTimeout?: number;
  clientIdleMs?: number;
}
export interface ClientFuzzReport {
  connections: number;
  mutatedHandshakes: number;
  mutatedFrames: number;
  clientOpened: number;
  handshakeFailed: number;
  clientMessages: number;
  silentAfterClose: number;
  readEnds: Record<string, number>;
  openAfterError: number;
  hung: number;
  maxEndMs: number;
  durations: Record<string, number>;
  hungStates: Record<string, number>;
  connectFailures: number;
  opsStarted: number;
  opsPending: number;
  doubleCompletions: number;
}
export declare function runClientFuzz(cfg?: ClientFuzzConfig): Promise<ClientFuzzReport>;

export declare function installProcessGuards(): {
  counts: { uncaught: number; unhandled: number; messages: string[] };
  remove(): void;
};
export declare function heapAfterGc(): Promise<number>;
