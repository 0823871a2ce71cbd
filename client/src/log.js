// Logging with OpenTok.js levels. Everything the SDK prints goes through
// here, so OT.setLogLevel(OT.NONE) silences it completely.

export const LEVELS = Object.freeze({ NONE: 0, ERROR: 1, WARN: 2, INFO: 3, LOG: 4, DEBUG: 5 });

const METHODS = ['', 'error', 'warn', 'info', 'log', 'debug'];

let current = LEVELS.WARN;

// setLogLevel takes a level number (OT.DEBUG) or its name ('debug').
export function setLogLevel(level) {
  if (typeof level === 'string') level = LEVELS[level.toUpperCase()];
  if (typeof level !== 'number' || !Number.isFinite(level)) return current;
  current = Math.max(LEVELS.NONE, Math.min(LEVELS.DEBUG, Math.round(level)));
  return current;
}

export function getLogLevel() {
  return current;
}

function write(level, scope, args) {
  if (current < level) return;
  const c = typeof console !== 'undefined' ? console : null;
  if (!c) return;
  const fn = c[METHODS[level]] || c.log;
  try {
    fn.call(c, `OT.${scope}:`, ...args);
  } catch {
    // A broken console must never break the SDK.
  }
}

// createLogger returns the logging functions of one module.
export function createLogger(scope) {
  return Object.freeze({
    error: (...args) => write(LEVELS.ERROR, scope, args),
    warn: (...args) => write(LEVELS.WARN, scope, args),
    info: (...args) => write(LEVELS.INFO, scope, args),
    log: (...args) => write(LEVELS.LOG, scope, args),
    debug: (...args) => write(LEVELS.DEBUG, scope, args),
  });
}

// log is OT.log(message): printed at the LOG level.
export function log(...args) {
  write(LEVELS.LOG, 'log', args);
}
