// The OT-level 'exception' event: OT.on('exception', handler) receives an
// ExceptionEvent {code, message, title, target} for connect, publish,
// subscribe and moderation failures, beside the callbacks.

import { Event, EventEmitter } from './events.js';
import { exceptionTitle } from './errors.js';
import { createLogger } from './log.js';

const log = createLogger('exception');

// globalEvents is the emitter behind OT.on / OT.once / OT.off.
export const globalEvents = new EventEmitter();

// Errors already reported: a publisher's capture failure reaches both
// initPublisher's and Session.publish's callbacks, but is one exception.
const reported = new WeakSet();

// reportException dispatches error as an OT 'exception' event whose
// target is the object the failure belongs to (a Session, Publisher, …).
export function reportException(error, target) {
  if (error && typeof error === 'object') {
    if (reported.has(error)) return;
    reported.add(error);
  }
  const code = error && typeof error.code === 'number' ? error.code : 2000;
  const message = (error && error.message) || 'unknown error';
  const title = exceptionTitle(code);
  log.warn(`${title} (${code}): ${message}`);
  globalEvents._emit(new Event('exception', { code, message, title }, { target: target || globalEvents }));
}
