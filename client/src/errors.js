// Error objects shaped like OpenTok.js's: an Error whose name is an
// 'OT_…' string and whose code is an OpenTok exception code (or, for
// signals, the HTTP-like code OpenTok documents).

export const ExceptionCodes = Object.freeze({
  JS_EXCEPTION: 2000,
  AUTHENTICATION_ERROR: 1004,
  INVALID_SESSION_ID: 1005,
  CONNECT_FAILED: 1006,
  CONNECT_REJECTED: 1007,
  CONNECTION_TIMEOUT: 1008,
  SECURITY_ERROR: 1009,
  NOT_CONNECTED: 1010,
  INVALID_PARAMETER: 1011,
  P2P_CONNECTION_FAILED: 1013,
  API_RESPONSE_FAILURE: 1014,
  TERMS_OF_SERVICE_FAILURE: 1026,
  UNABLE_TO_PUBLISH: 1500,
  UNABLE_TO_SIGNAL: 1510,
  UNABLE_TO_FORCE_DISCONNECT: 1520,
  UNABLE_TO_FORCE_UNPUBLISH: 1530,
  FORCE_UNPUBLISH_OR_INVALID_STREAM: 1535,
  UNABLE_TO_FORCE_MUTE: 1540,
  PUBLISHER_ICE_WORKFLOW_FAILED: 1553,
  SUBSCRIBER_ICE_WORKFLOW_FAILED: 1554,
  UNABLE_TO_SUBSCRIBE: 1600,
  UNSUPPORTED_VIDEO_CODEC: 1601,
  UNEXPECTED_SERVER_RESPONSE: 2001,
});

export const ErrorNames = Object.freeze({
  AUTHENTICATION_ERROR: 'OT_AUTHENTICATION_ERROR',
  INVALID_SESSION_ID: 'OT_INVALID_SESSION_ID',
  CONNECT_FAILED: 'OT_CONNECT_FAILED',
  CONNECT_REJECTED: 'OT_CONNECT_REJECTED',
  NOT_CONNECTED: 'OT_NOT_CONNECTED',
  PERMISSION_DENIED: 'OT_PERMISSION_DENIED',
  UNABLE_TO_PUBLISH: 'OT_UNABLE_TO_PUBLISH',
  UNABLE_TO_SUBSCRIBE: 'OT_UNABLE_TO_SUBSCRIBE',
  INVALID_PARAMETER: 'OT_INVALID_PARAMETER',
  STREAM_NOT_FOUND: 'OT_STREAM_NOT_FOUND',
  NOT_FOUND: 'OT_NOT_FOUND',
  RATE_LIMIT_EXCEEDED: 'OT_RATE_LIMIT_EXCEEDED',
  STREAM_LIMIT_EXCEEDED: 'OT_STREAM_LIMIT_EXCEEDED',
  UNEXPECTED_SERVER_RESPONSE: 'OT_UNEXPECTED_SERVER_RESPONSE',
  TIMEOUT: 'OT_TIMEOUT',
  CANCELED: 'OT_CANCELED',
  NOT_SUPPORTED: 'OT_NOT_SUPPORTED',
  UNSUPPORTED_BROWSER: 'OT_UNSUPPORTED_BROWSER',
  USER_MEDIA_ACCESS_DENIED: 'OT_USER_MEDIA_ACCESS_DENIED',
  NO_DEVICES_FOUND: 'OT_NO_DEVICES_FOUND',
  HARDWARE_UNAVAILABLE: 'OT_HARDWARE_UNAVAILABLE',
  CONSTRAINTS_NOT_SATISFIED: 'OT_CONSTRAINTS_NOT_SATISFIED',
  UNABLE_TO_CAPTURE_MEDIA: 'OT_UNABLE_TO_CAPTURE_MEDIA',
  SCREEN_SHARING_NOT_SUPPORTED: 'OT_SCREEN_SHARING_NOT_SUPPORTED',
  MEDIA_ERR_DECODE: 'OT_MEDIA_ERR_DECODE',
  INTERNAL_ERROR: 'OT_INTERNAL_ERROR',
});

// Titles of the 'exception' events, as OpenTok.js words them.
const TITLES = {
  1004: 'Authentication Error',
  1005: 'Invalid Session ID',
  1006: 'Connect Failed',
  1007: 'Connect Rejected',
  1008: 'Connect Time-out',
  1010: 'Not Connected',
  1011: 'Invalid Parameter',
  1500: 'Unable to Publish',
  1520: 'Unable to Force Disconnect',
  1530: 'Unable to Force Unpublish',
  1535: 'Force Unpublish on Invalid Stream',
  1540: 'Unable to Force Mute',
  1553: 'Publisher ICE workflow failed',
  1554: 'Subscriber ICE workflow failed',
  1600: 'Unable to Subscribe',
  1601: 'Unsupported Video Codec',
  2000: 'Internal Error',
  2001: 'Unexpected Server Response',
};

export function exceptionTitle(code) {
  return TITLES[code] || 'Error';
}

export class OTError extends Error {
  constructor(name, message, code) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

export function otError(name, message, code) {
  return new OTError(name, message, code);
}

// errorFromRequest turns a failed signaling request (see signaling.js's
// RequestError) into an OTError for one operation. byCode maps server codes
// to [name, code]; fallback is used for anything else.
export function errorFromRequest(err, byCode, fallback) {
  if (err instanceof OTError) return err;
  const serverCode = err && typeof err.code === 'number' ? err.code : 0;
  const message = (err && err.message) || 'request failed';
  if (err && err.kind === 'server' && byCode[serverCode]) {
    const [name, code] = byCode[serverCode];
    return new OTError(name, message, code);
  }
  if (err && (err.kind === 'network' || err.kind === 'notConnected') && byCode.network) {
    const [name, code] = byCode.network;
    return new OTError(name, message, code);
  }
  const [name, code] = fallback;
  return new OTError(name, message, code);
}
