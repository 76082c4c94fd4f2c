export * from './error-names.js';
export * from './frame.js';
export * from './handshake.js';
export * from './http-fields.js';
export * from './mask.js';
export * from './pmd.js';
export * from './rfc6455.js';
export * from './utf8.js';
