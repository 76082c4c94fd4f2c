// Each engineer appends the export lines of their own files; keep one line per file.
export * from './acceptor.js';
export * from './buffer.js';
export * from './dynamic-buffer.js';
export * from './endpoint.js';
export * from './error.js';
export * from './flat-buffer.js';
export * from './ip.js';
export * from './multi-buffer.js';
export * from './resolver.js';
export * from './socket-base.js';
export * from './static-buffer.js';
export * from './stream.js';
export * from './tcp-stream.js';
export * from './test-stream.js';
