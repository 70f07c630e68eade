/** Shared helpers for steps: observe in one round trip, plan files/dirs/services as data. */
export * from './observe.js';
export * from './files.js';
export * from './services.js';
export * from './desired.js';
