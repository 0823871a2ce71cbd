// The signaling link (docs/protocol.md, version 1): one WebSocket to
// /signaling/v1 carrying JSON requests with ids, their replies and errors,
// and the session's events. It also keeps the link alive: an application
// ping finds a dead network, and a lost link is resumed (`resume` with the
// last resumeToken) with backoff for up to RECONNECT_WINDOW_MS.
//
// The Session owns one Signaling per connect() and receives:
//   onEvent(msg)       every server event, in order (held until releaseEvents())
//   onReconnecting()   the link dropped; resuming
//   onResumed(msg)     the `resumed` answer; events are held until releaseEvents()
//   onClosed(reason)   the link is gone for good ('networkDisconnected', or the
//                      reason of a server sessionDisconnected)

import { createLogger } from './log.js';
import { byteLength } from './util.js';

const log = createLogger('Signaling');

const CONNECT_TIMEOUT_MS = 15000;
const RESUME_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 30000;
const HEARTBEAT_INTERVAL_MS = 2000;
const LINK_TIMEOUT_MS = 6000;
const RECONNECT_WINDOW_MS = 30000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 2000;
const MAX_MESSAGE_BYTES = 64 * 1024;

// RequestError is how a request fails:
//   kind 'server'       the server answered with an error (code is its code)
//   kind 'network'      the link dropped before an answer
//   kind 'timeout'      no answer in time
//   kind 'notConnected' the link is not up (connecting, reconnecting, closed)
//   kind 'invalid'      the message could not be sent as is (too large)
export class RequestError extends Error {
  constructor(kind, message, code = 0) {
    super(message);
    this.name = 'RequestError';
    this.kind = kind;
    this.code = code;
  }
}

function serverError(msg) {
  const code = typeof msg.code === 'number' ? msg.code : 0;
  const message = typeof msg.message === 'string' && msg.message ? msg.message : `server error ${code}`;
  return new RequestError('server', message, code);
}

function parseMessage(data) {
  if (typeof data !== 'string') return null;
  try {
    const msg = JSON.parse(data);
    if (msg && typeof msg === 'object' && !Array.isArray(msg) && typeof msg.type === 'string') return msg;
  } catch {
    // fall through
  }
  return null;
}

function detach(ws) {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}

function closeQuietly(ws, code = 1000, reason = '') {
  detach(ws);
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

export class Signaling {
  #url;
  #handlers;
  // idle → connecting → connected ⇄ reconnecting → closed
  #state = 'idle';
  #ws = null;
  #abortHandshake = null;
  #nextId = 1;
  #pending = new Map(); // id → {resolve, reject, timer}
  #held = null; // events waiting for releaseEvents()
  #sessionId = '';
  #connectionId = '';
  #resumeToken = '';
  #heartbeat = null;
  #lastHeard = 0;
  #pingSentAt = 0;
  #reconnectTimer = null;
  #reconnectDeadline = 0;
  #attempt = 0;
  #endingReason = ''; // set by a server sessionDisconnected

  constructor(url, handlers) {
    this.#url = url;
    this.#handlers = handlers || {};
  }

  get state() {
    return this.#state;
  }

  get connected() {
    return this.#state === 'connected';
  }

  // connect opens the link and joins the session; it resolves with the
  // `connected` message, or rejects with a RequestError (kind 'server' with
  // the server's code 1004, 1005, 1006, 1007; or 'network'/'timeout').
  // Events that follow are held until releaseEvents().
  connect(sessionId, token) {
    if (this.#state !== 'idle') {
      return Promise.reject(new RequestError('invalid', 'this link was already used'));
    }
    this.#state = 'connecting';
    this.#sessionId = sessionId;
    const request = { type: 'connect', id: this.#id(), sessionId, token };
    return this.#handshake(request, 'connected', CONNECT_TIMEOUT_MS, () => this.#state === 'connecting').then(
      (msg) => {
        if (this.#state !== 'connecting') throw new RequestError('notConnected', 'closed while connecting');
        this.#connectionId = msg.connection.connectionId;
        this.#resumeToken = typeof msg.resumeToken === 'string' ? msg.resumeToken : '';
        this.#state = 'connected';
        return msg;
      },
      (err) => {
        if (this.#state === 'connecting') this.#state = 'closed';
        throw err;
      },
    );
  }

  // releaseEvents delivers the events held since the last connect/resume
  // and lets the following ones through as they come.
  releaseEvents() {
    const held = this.#held;
    this.#held = null;
    if (held) held.forEach((msg) => this.#deliver(msg));
  }

  // request sends {type, id, ...fields} and resolves with the reply.
  request(type, fields = {}, { timeout = REQUEST_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'connected' || !this.#ws) {
        reject(new RequestError('notConnected', `not connected (${this.#state})`));
        return;
      }
      const id = this.#id();
      const text = this.#encode({ ...fields, type, id });
      if (!text) {
        reject(new RequestError('invalid', `the ${type} message is larger than ${MAX_MESSAGE_BYTES} bytes`));
        return;
      }
      const timer = setTimeout(() => {
        if (this.#pending.delete(id)) reject(new RequestError('timeout', `no answer to ${type} in ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#sendText(text)) {
        this.#settle(id, null, new RequestError('network', 'the link is down'));
      }
    });
  }

  // notify sends a message that expects no reply (candidate). It returns
  // false when the link is not up.
  notify(type, fields = {}) {
    if (this.#state !== 'connected' || !this.#ws) return false;
    const text = this.#encode({ ...fields, type });
    return text ? this.#sendText(text) : false;
  }

  // close leaves: it sends `disconnect` when asked and the link is up,
  // then drops everything. No handler is called afterwards.
  close({ sendDisconnect = true } = {}) {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    this.#stopHeartbeat();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    if (this.#abortHandshake) this.#abortHandshake();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      if (sendDisconnect && wasConnected) this.#sendOn(ws, JSON.stringify({ type: 'disconnect' }));
      closeQuietly(ws, 1000, 'disconnect');
    }
    this.#held = null;
    this.#rejectPending(new RequestError('notConnected', 'disconnected'));
  }

  #id() {
    const id = this.#nextId;
    this.#nextId += 1;
    return id;
  }

  #encode(msg) {
    let text;
    try {
      text = JSON.stringify(msg);
    } catch (err) {
      log.error('cannot encode a message:', err);
      return null;
    }
    return byteLength(text) > MAX_MESSAGE_BYTES ? null : text;
  }

  #sendText(text) {
    return this.#ws ? this.#sendOn(this.#ws, text) : false;
  }

  #sendOn(ws, text) {
    if (ws.readyState !== 1) return false; // WebSocket.OPEN
    try {
      ws.send(text);
      return true;
    } catch (err) {
      log.debug('send failed:', err);
      return false;
    }
  }

  #settle(id, reply, error) {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(reply);
    return true;
  }

  #rejectPending(error) {
    const ids = [...this.#pending.keys()];
    ids.forEach((id) => this.#settle(id, null, error));
  }

  // #handshake opens a WebSocket, sends request as its first message and
  // waits for okType (with the same id) or an error. accept() is asked,
  // synchronously, whether the link is still wanted; when it is, the
  // socket becomes the link before any later message is read.
  #handshake(request, okType, timeoutMs, accept) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.#url);
      } catch (err) {
        reject(new RequestError('network', `cannot open ${this.#url}: ${err && err.message}`));
        return;
      }
      let done = false;
      const finish = (error, msg) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.#abortHandshake === abort) this.#abortHandshake = null;
        if (error) {
          closeQuietly(ws);
          reject(error);
        } else {
          resolve(msg);
        }
      };
      const timer = setTimeout(
        () => finish(new RequestError('timeout', `no answer from ${this.#url} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const abort = () => {
        // The server may have admitted us already: leave cleanly.
        if (ws.readyState === 1) this.#sendOn(ws, JSON.stringify({ type: 'disconnect' }));
        finish(new RequestError('notConnected', 'closed while connecting'));
      };
      this.#abortHandshake = abort;
      ws.onopen = () => {
        if (!this.#sendOn(ws, JSON.stringify(request))) {
          finish(new RequestError('network', 'cannot send on the new link'));
        }
      };
      ws.onmessage = (e) => {
        const msg = parseMessage(e.data);
        if (!msg) {
          log.warn('ignoring a malformed message from the server');
          return;
        }
        if (msg.type === okType && msg.id === request.id) {
          if (okType === 'connected' && !(msg.connection && typeof msg.connection.connectionId === 'string')) {
            finish(new RequestError('server', 'the connected message has no connection', 2001));
            return;
          }
          if (!accept()) {
            // Admitted, but no longer wanted: leave cleanly.
            this.#sendOn(ws, JSON.stringify({ type: 'disconnect' }));
            finish(new RequestError('notConnected', 'closed while connecting'));
            return;
          }
          this.#install(ws);
          finish(null, msg);
          return;
        }
        if (msg.type === 'error' && (msg.id === request.id || !msg.id)) {
          finish(serverError(msg));
          return;
        }
        log.debug('ignoring a message before the handshake completed:', msg.type);
      };
      ws.onerror = () => {
        // onclose follows with the details.
      };
      ws.onclose = (e) => {
        finish(new RequestError('network', `the link closed (code ${e && e.code})`));
      };
    });
  }

  // #install makes ws the link: its messages are routed from now on, and
  // events are held until releaseEvents().
  #install(ws) {
    this.#ws = ws;
    // Events still held from before (a link lost right after connecting)
    // stay first in line.
    this.#held = this.#held || [];
    ws.onmessage = (e) => this.#onMessage(ws, e);
    ws.onclose = () => {
      if (ws === this.#ws) this.#linkLost('the server closed the link');
    };
    ws.onerror = () => {};
    this.#startHeartbeat();
  }

  #onMessage(ws, e) {
    if (ws !== this.#ws) return;
    this.#lastHeard = Date.now();
    const msg = parseMessage(e.data);
    if (!msg) {
      log.warn('ignoring a malformed message from the server');
      return;
    }
    if ((msg.type === 'reply' || msg.type === 'error') && typeof msg.id === 'number' && msg.id > 0) {
      if (!this.#settle(msg.id, msg, msg.type === 'error' ? serverError(msg) : null)) {
        log.debug('an answer to an unknown request', msg.id);
      }
      return;
    }
    if (msg.type === 'error') {
      log.warn(`the server refused a message (${msg.code}): ${msg.message}`);
      return;
    }
    if (msg.type === 'reply') return; // an answer nobody waits for
    if (msg.type === 'sessionDisconnected') {
      this.#endingReason = typeof msg.reason === 'string' && msg.reason ? msg.reason : 'forceDisconnected';
    }
    if (this.#held) this.#held.push(msg);
    else this.#deliver(msg);
  }

  #deliver(msg) {
    this.#call('onEvent', msg);
  }

  #call(name, arg) {
    const fn = this.#handlers[name];
    if (typeof fn !== 'function') return;
    try {
      fn(arg);
    } catch (err) {
      log.error(`${name} failed:`, err);
    }
  }

  #startHeartbeat() {
    this.#stopHeartbeat();
    this.#lastHeard = Date.now();
    this.#pingSentAt = 0;
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_INTERVAL_MS);
  }

  #stopHeartbeat() {
    clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  // #beat pings the server. The link is lost when a ping has gone
  // unanswered (nothing at all heard since) for LINK_TIMEOUT_MS. Timers of
  // background tabs may run late; that only delays the next ping.
  #beat() {
    if (this.#state !== 'connected' || !this.#ws) return;
    const now = Date.now();
    const outstanding = this.#pingSentAt > 0 && this.#lastHeard < this.#pingSentAt;
    if (outstanding) {
      if (now - this.#pingSentAt > LINK_TIMEOUT_MS) this.#linkLost('the server stopped answering');
      return;
    }
    this.#pingSentAt = now;
    this.request('ping', {}, { timeout: LINK_TIMEOUT_MS * 2 }).catch(() => {});
  }

  // #linkLost drops the current link and, unless the session was ending,
  // starts resuming it.
  #linkLost(why) {
    const ws = this.#ws;
    this.#ws = null;
    this.#stopHeartbeat();
    if (ws) closeQuietly(ws, 4000, 'link lost');
    this.#rejectPending(new RequestError('network', `the link to the server was lost: ${why}`));
    if (this.#state !== 'connected') return;
    if (this.#endingReason) {
      this.#state = 'closed';
      this.#call('onClosed', this.#endingReason);
      return;
    }
    if (!this.#resumeToken || !this.#connectionId) {
      log.info('link lost and no resume token; the session is over');
      this.#state = 'closed';
      this.#call('onClosed', 'networkDisconnected');
      return;
    }
    log.info(`link lost (${why}); resuming`);
    this.#state = 'reconnecting';
    this.#attempt = 0;
    this.#reconnectDeadline = Date.now() + RECONNECT_WINDOW_MS;
    this.#call('onReconnecting');
    this.#scheduleResume();
  }

  #scheduleResume() {
    if (this.#state !== 'reconnecting') return;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** this.#attempt, BACKOFF_MAX_MS);
    this.#attempt += 1;
    if (Date.now() + delay >= this.#reconnectDeadline) {
      this.#giveUp();
      return;
    }
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#tryResume();
    }, delay);
  }

  #tryResume() {
    if (this.#state !== 'reconnecting') return;
    const request = {
      type: 'resume',
      id: this.#id(),
      sessionId: this.#sessionId,
      connectionId: this.#connectionId,
      resumeToken: this.#resumeToken,
    };
    this.#handshake(request, 'resumed', RESUME_TIMEOUT_MS, () => this.#state === 'reconnecting').then(
      (msg) => {
        if (this.#state !== 'reconnecting') return; // closed meanwhile: close() dropped the link
        if (typeof msg.resumeToken === 'string' && msg.resumeToken) this.#resumeToken = msg.resumeToken;
        this.#endingReason = '';
        this.#state = 'connected';
        log.info('resumed');
        this.#call('onResumed', msg);
      },
      (err) => {
        if (this.#state !== 'reconnecting') return;
        if (err.kind === 'server') {
          log.info(`the server refused to resume (${err.code}): ${err.message}`);
          this.#giveUp();
          return;
        }
        log.debug('resume attempt failed:', err.message);
        this.#scheduleResume();
      },
    );
  }

  #giveUp() {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#held = null;
    this.#call('onClosed', 'networkDisconnected');
  }
}
