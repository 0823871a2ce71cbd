// Small helpers for calling application code safely.

import { createLogger } from './log.js';

const log = createLogger('callback');

export function noop() {}

// safeCall calls an application callback; what it throws is logged.
export function safeCall(fn, ...args) {
  if (typeof fn !== 'function') return;
  try {
    fn(...args);
  } catch (err) {
    log.error('exception in a completion handler:', err);
  }
}

// callbackify reports promise's outcome to an optional Node-style
// callback (error first) and returns promise, which is then handled: a
// callback user who ignores the promise gets no unhandled rejection.
export function callbackify(promise, callback) {
  if (typeof callback === 'function') {
    promise.then(
      (value) => safeCall(callback, undefined, value),
      (error) => safeCall(callback, error),
    );
  }
  return promise;
}

const encoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;

// byteLength is the UTF-8 size of text (the server's limits are bytes).
export function byteLength(text) {
  return encoder ? encoder.encode(text).length : text.length;
}

export function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && value.nodeType === undefined;
}
