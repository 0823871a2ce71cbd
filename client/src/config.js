// Where the Parley server is. In order of precedence: initSession's
// options.serverUrl, OT.setServerUrl(url), window.PARLEY_SERVER_URL, and
// the origin (plus path prefix) of the <script src=".../v2/js/opentok.js">
// that loaded the SDK, or else the page's own origin.

import { createLogger } from './log.js';

const log = createLogger('config');

const SCRIPT_PATH = /\/v2\/js\/opentok(?:\.min)?\.js$/;

// normalizeUrl returns url as "scheme://host[:port][/prefix]" without a
// trailing slash, or '' when it is not an absolute http(s)/ws(s) URL.
export function normalizeUrl(url) {
  if (typeof url !== 'string' || url.trim() === '') return '';
  let u;
  try {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    u = new URL(url.trim(), base);
  } catch {
    return '';
  }
  if (!/^(https?|wss?):$/.test(u.protocol)) return '';
  return u.origin + u.pathname.replace(/\/+$/, '');
}

// detectScriptUrl reads document.currentScript; it only works while the
// SDK's script is being evaluated, so it runs once at load time.
function detectScriptUrl() {
  try {
    const script = typeof document !== 'undefined' ? document.currentScript : null;
    if (!script || !script.src) return '';
    const u = new URL(script.src, typeof location !== 'undefined' ? location.href : undefined);
    if (!/^https?:$/.test(u.protocol)) return '';
    const prefix = SCRIPT_PATH.test(u.pathname) ? u.pathname.replace(SCRIPT_PATH, '') : '';
    return u.origin + prefix.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

const scriptUrl = detectScriptUrl();
let explicitUrl = '';

// setServerUrl is OT.setServerUrl(url).
export function setServerUrl(url) {
  const normalized = normalizeUrl(url);
  if (!normalized) {
    log.error('setServerUrl: not an absolute http(s) URL:', url);
    return false;
  }
  explicitUrl = normalized;
  return true;
}

export function getServerUrl() {
  if (explicitUrl) return explicitUrl;
  if (typeof window !== 'undefined' && window.PARLEY_SERVER_URL) {
    const fromWindow = normalizeUrl(String(window.PARLEY_SERVER_URL));
    if (fromWindow) return fromWindow;
    log.warn('window.PARLEY_SERVER_URL is not an absolute URL; ignored');
  }
  if (scriptUrl) return scriptUrl;
  if (typeof location !== 'undefined' && /^https?:$/.test(location.protocol)) return location.origin;
  return '';
}

// signalingUrl turns a server URL into its signaling WebSocket URL.
export function signalingUrl(serverUrl) {
  const base = normalizeUrl(serverUrl);
  if (!base) return '';
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/signaling/v1';
  return u.toString();
}
