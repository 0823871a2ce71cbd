// Session: one OpenTok session over the signaling link. It keeps the
// session's connections and streams, turns server events into OpenTok.js
// events, runs publish/subscribe/signal/moderation requests, and handles
// disconnection and reconnection (resume) with their default actions.
// In a relayed session it also carries the peers' negotiation (`relay`
// messages) to the publishers and subscribers they are for.

import { getServerUrl, normalizeUrl, signalingUrl } from './config.js';
import { Event, EventEmitter } from './events.js';
import { ErrorNames, errorFromRequest, otError } from './errors.js';
import { reportException } from './exceptions.js';
import { createLogger } from './log.js';
import { rtcConfiguration } from './peer.js';
import { Publisher } from './publisher.js';
import { readRelay } from './relay.js';
import { RequestError, Signaling } from './signaling.js';
import { Connection, Stream, isConnectionJSON, isStreamJSON } from './stream.js';
import { Subscriber } from './subscriber.js';
import { byteLength, callbackify, isPlainObject, noop, safeCall } from './util.js';
import { widgetArgs } from './widget.js';

const log = createLogger('Session');

const CONNECT_ERRORS = {
  1004: [ErrorNames.AUTHENTICATION_ERROR, 1004],
  1005: [ErrorNames.INVALID_SESSION_ID, 1005],
  1006: [ErrorNames.CONNECT_FAILED, 1006],
  1007: [ErrorNames.CONNECT_REJECTED, 1007],
};
const CONNECT_FALLBACK = [ErrorNames.CONNECT_FAILED, 1006];

const SIGNAL_ERRORS = {
  400: [ErrorNames.INVALID_PARAMETER, 400],
  403: [ErrorNames.PERMISSION_DENIED, 403],
  404: [ErrorNames.NOT_FOUND, 404],
  413: [ErrorNames.INVALID_PARAMETER, 413],
  429: [ErrorNames.RATE_LIMIT_EXCEEDED, 429],
  1010: [ErrorNames.NOT_CONNECTED, 500],
  network: [ErrorNames.NOT_CONNECTED, 500],
};
const SIGNAL_FALLBACK = [ErrorNames.UNEXPECTED_SERVER_RESPONSE, 500];
const SIGNAL_TYPE_CHARS = /^[A-Za-z0-9\-_~]*$/;
const MAX_SIGNAL_TYPE_LENGTH = 128;
const MAX_SIGNAL_DATA_BYTES = 8192;

const CAPABILITIES = ['publish', 'subscribe', 'forceDisconnect', 'forceUnpublish', 'forceMute'];

// relaySubscribe messages for a stream whose publish reply has not been
// read yet are held (at most this many, this long).
const MAX_EARLY_RELAY_SUBSCRIBES = 64;
const EARLY_RELAY_SUBSCRIBE_MS = 10000;

function defer(fn) {
  Promise.resolve().then(fn).catch((err) => log.error(err));
}

function str(value, fallback) {
  return typeof value === 'string' && value ? value : fallback;
}

function clone(value) {
  return value && typeof value === 'object' ? { ...value } : value;
}

// Capabilities are the token role's rights, 0 or 1 each.
class Capabilities {
  constructor() {
    for (const key of CAPABILITIES) this[key] = 0;
  }

  permittedTo(action) {
    return this[action] === 1;
  }

  _set(json) {
    for (const key of CAPABILITIES) {
      const v = json && typeof json === 'object' ? json[key] : 0;
      this[key] = v === 1 || v === true ? 1 : 0;
    }
  }
}

export class Session extends EventEmitter {
  // disconnected → connecting → connected ⇄ reconnecting → disconnected
  #state = 'disconnected';
  #signaling = null;
  #serverUrl;
  #iceConfig;
  #iceServers = [];
  #mediaMode = 'routed';
  #earlyRelaySubscribes = []; // [{request, at}]
  #suppressConnectionEvents;
  #connections = new Map();
  #streams = new Map();
  #publishers = new Set();
  #subscribers = new Set();
  #signalQueue = []; // signals waiting for the link to resume
  #link;

  constructor(apiKey, sessionId, options = {}) {
    super();
    const opts = isPlainObject(options) ? options : {};
    this.apiKey = apiKey === undefined || apiKey === null ? '' : String(apiKey);
    this.sessionId = typeof sessionId === 'string' ? sessionId : '';
    this.connection = undefined;
    this.capabilities = new Capabilities();
    this.#serverUrl = opts.serverUrl ? normalizeUrl(String(opts.serverUrl)) : '';
    if (opts.serverUrl && !this.#serverUrl) log.warn('options.serverUrl is not an absolute URL; ignored');
    this.#iceConfig = isPlainObject(opts.iceConfig) ? opts.iceConfig : undefined;
    this.#suppressConnectionEvents = opts.connectionEventsSuppressed === true;

    // What publishers and subscribers of this session use.
    this.#link = Object.freeze({
      request: (type, fields, requestOptions) =>
        this.#signaling
          ? this.#signaling.request(type, fields, requestOptions)
          : Promise.reject(new RequestError('notConnected', 'the session is not connected')),
      notify: (type, fields) => Boolean(this.#signaling && this.#signaling.notify(type, fields)),
      isConnected: () => this.#state === 'connected' && Boolean(this.#signaling && this.#signaling.connected),
      rtcConfiguration: () => rtcConfiguration(this.#iceServers, this.#iceConfig),
      relayed: () => this.#mediaMode === 'relayed',
      takeEarlyRelaySubscribes: (streamId) => this.#takeEarlyRelaySubscribes(streamId),
      streamById: (streamId) => this.#streams.get(streamId),
      addOwnStream: (streamId, spec) => this.#addOwnStream(streamId, spec),
      publisherGone: (publisher) => this.#publishers.delete(publisher),
      subscriberGone: (subscriber) => this.#subscribers.delete(subscriber),
    });

    // OpenTok.js exposes .promise forms of these.
    const connect = this.connect.bind(this);
    connect.promise = (token) =>
      new Promise((resolve, reject) => connect(token, (err) => (err ? reject(err) : resolve())));
    this.connect = connect;
    const publish = this.publish.bind(this);
    publish.promise = (publisherOrTarget, properties) =>
      new Promise((resolve, reject) => {
        const publisher = publish(publisherOrTarget, properties, (err) => (err ? reject(err) : resolve(publisher)));
      });
    this.publish = publish;
    const subscribe = this.subscribe.bind(this);
    subscribe.promise = (stream, target, properties) =>
      new Promise((resolve, reject) => {
        const subscriber = subscribe(stream, target, properties || {}, (err) =>
          err ? reject(err) : resolve(subscriber),
        );
      });
    this.subscribe = subscribe;
  }

  isConnected() {
    return this.#state === 'connected';
  }

  // connect(token, callback?): joins the session. The callback gets an
  // error (code 1004, 1005, 1006 or 1007) or nothing once connected.
  connect(token, completionHandler) {
    const cb = typeof completionHandler === 'function' ? completionHandler : undefined;
    if (this.#state !== 'disconnected') {
      log.warn(`connect: the session is already ${this.#state}`);
      return this;
    }
    const fail = (error) =>
      defer(() => {
        safeCall(cb, error);
        reportException(error, this);
      });
    if (typeof token !== 'string' || token === '') {
      fail(otError(ErrorNames.AUTHENTICATION_ERROR, 'connect needs a token', 1004));
      return this;
    }
    if (!this.sessionId) {
      fail(otError(ErrorNames.INVALID_SESSION_ID, 'the session id is empty', 1005));
      return this;
    }
    if (typeof WebSocket === 'undefined') {
      fail(otError(ErrorNames.CONNECT_FAILED, 'this browser has no WebSocket', 1006));
      return this;
    }
    const url = signalingUrl(this.#serverUrl || getServerUrl());
    if (!url) {
      fail(otError(ErrorNames.CONNECT_FAILED, 'the Parley server URL is unknown; call OT.setServerUrl(url)', 1006));
      return this;
    }
    this.#state = 'connecting';
    const sig = new Signaling(url, {
      onEvent: (msg) => this.#onEvent(sig, msg),
      onReconnecting: () => this.#onReconnecting(sig),
      onResumed: (msg) => this.#onResumed(sig, msg),
      onClosed: (reason) => this.#onClosed(sig, reason),
    });
    this.#signaling = sig;
    log.debug('connecting to', url);
    sig
      .connect(this.sessionId, token)
      .then(
        (msg) => this.#onConnected(sig, msg, cb),
        (err) => this.#onConnectFailed(sig, err, cb),
      )
      .catch((err) => log.error('connect:', err));
    return this;
  }

  #onConnected(sig, msg, cb) {
    if (sig !== this.#signaling) {
      safeCall(cb, otError(ErrorNames.CONNECT_FAILED, 'disconnect() was called while connecting', 1006));
      return;
    }
    this.#state = 'connected';
    this.connection = new Connection(msg.connection);
    this.#connections.set(this.connection.connectionId, this.connection);
    this.capabilities._set(msg.capabilities);
    this.#iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
    this.#mediaMode = msg.session && msg.session.mediaMode === 'relayed' ? 'relayed' : 'routed';
    log.info('connected as', this.connection.connectionId);
    this._emit(new Event('sessionConnected', { connections: [], streams: [] }));
    safeCall(cb, undefined);
    // The replay (connections, then streams) follows sessionConnected, one
    // task later: handlers added once connect.promise() resolves see it too.
    setTimeout(() => {
      if (sig === this.#signaling) sig.releaseEvents();
    }, 0);
  }

  #onConnectFailed(sig, err, cb) {
    const error = errorFromRequest(err, CONNECT_ERRORS, CONNECT_FALLBACK);
    if (sig !== this.#signaling) {
      safeCall(cb, error); // disconnect() canceled it: no exception
      return;
    }
    this.#signaling = null;
    this.#state = 'disconnected';
    safeCall(cb, error);
    reportException(error, this);
  }

  // disconnect leaves the session (reason clientDisconnected).
  disconnect() {
    if (this.#state === 'disconnected') return;
    if (this.#state === 'connecting') {
      const sig = this.#signaling;
      this.#signaling = null;
      this.#state = 'disconnected';
      if (sig) sig.close();
      return;
    }
    this.#teardown('clientDisconnected', true);
  }

  // #teardown ends the session locally: publishers' streams end (their
  // default action destroys them), then sessionDisconnected, whose default
  // action destroys the subscribers.
  #teardown(reason, sendDisconnect) {
    if (this.#state === 'disconnected') return;
    const sig = this.#signaling;
    this.#signaling = null;
    this.#state = 'disconnected';
    if (sig) sig.close({ sendDisconnect });
    const queued = this.#signalQueue;
    this.#signalQueue = [];
    queued.forEach((item) => item.reject(otError(ErrorNames.NOT_CONNECTED, 'the session disconnected', 500)));
    for (const publisher of [...this.#publishers]) {
      publisher._endPublication(reason, { notifyServer: false, dispatch: true });
    }
    this.#publishers.clear();
    const subscribers = [...this.#subscribers];
    subscribers.forEach((s) => s._streamEnded());
    this.#subscribers.clear();
    this.#streams.clear();
    this.#connections.clear();
    this.#earlyRelaySubscribes = [];
    log.info('disconnected:', reason);
    this._emit(new Event('sessionDisconnected', { reason }, { cancelable: true }), () =>
      subscribers.forEach((s) => s._destroy(reason)),
    );
    this.connection = undefined;
    this.capabilities._set(null);
  }

  #onReconnecting(sig) {
    if (sig !== this.#signaling) return;
    this.#state = 'reconnecting';
    this._emit(new Event('sessionReconnecting'));
  }

  // #onResumed: the link is back. Missed events come first, then queued
  // signals go out and broken media links restart ICE.
  #onResumed(sig, msg) {
    if (sig !== this.#signaling) return;
    this.#state = 'connected';
    if (isConnectionJSON(msg.connection) && this.connection && msg.connection.connectionId !== this.connection.connectionId) {
      log.warn('resumed with another connection id; keeping', this.connection.connectionId);
    }
    this._emit(new Event('sessionReconnected'));
    sig.releaseEvents();
    if (sig !== this.#signaling || this.#state !== 'connected') return;
    const queued = this.#signalQueue;
    this.#signalQueue = [];
    queued.forEach((item) => this.#transmitSignal(item));
    for (const publisher of [...this.#publishers]) publisher._afterReconnect();
    for (const subscriber of [...this.#subscribers]) subscriber._afterReconnect();
  }

  #onClosed(sig, reason) {
    if (sig !== this.#signaling) return;
    this.#teardown(reason || 'networkDisconnected', false);
  }

  #isOwn(connection) {
    return Boolean(this.connection && connection && connection.connectionId === this.connection.connectionId);
  }

  #connectionFor(json) {
    return this.#connections.get(json.connectionId) || new Connection(json);
  }

  #publisherFor(streamId) {
    for (const publisher of this.#publishers) if (publisher._streamId === streamId) return publisher;
    return undefined;
  }

  #addOwnStream(streamId, spec) {
    const existing = this.#streams.get(streamId);
    if (existing) return existing;
    const stream = new Stream({ ...spec, streamId, creationTime: Date.now() }, this.connection);
    this.#streams.set(streamId, stream);
    return stream;
  }

  #onEvent(sig, msg) {
    if (sig !== this.#signaling) return;
    switch (msg.type) {
      case 'connectionCreated':
        this.#onConnectionCreated(msg);
        break;
      case 'connectionDestroyed':
        this.#onConnectionDestroyed(msg);
        break;
      case 'streamCreated':
        this.#onStreamCreated(msg);
        break;
      case 'streamDestroyed':
        this.#onStreamDestroyed(msg);
        break;
      case 'streamPropertyChanged':
        this.#onStreamPropertyChanged(msg);
        break;
      case 'signal':
        this.#onSignal(msg);
        break;
      case 'muteForced':
        this.#onMuteForced(msg);
        break;
      case 'archiveStarted':
      case 'archiveStopped':
        this.#onArchive(msg);
        break;
      case 'sessionDisconnected':
        this.#teardown(str(msg.reason, 'forceDisconnected'), false);
        break;
      case 'subscriberClosed':
        this.#onSubscriberClosed(msg);
        break;
      case 'relaySubscribe':
        this.#onRelaySubscribe(msg);
        break;
      case 'relay':
        this.#onRelay(msg);
        break;
      case 'relayUnsubscribe':
        this.#onRelayUnsubscribe(msg);
        break;
      default:
        log.debug('ignoring a server message of type', msg.type);
    }
  }

  #malformed(msg) {
    log.warn(`ignoring a malformed ${msg.type} event`);
  }

  #onConnectionCreated(msg) {
    if (!isConnectionJSON(msg.connection)) return this.#malformed(msg);
    const id = msg.connection.connectionId;
    // Your own connection is in the replay too; OpenTok.js does not
    // dispatch it.
    if (this.connection && id === this.connection.connectionId) return undefined;
    if (this.#connections.has(id)) return undefined;
    const connection = new Connection(msg.connection);
    this.#connections.set(id, connection);
    if (!this.#suppressConnectionEvents) {
      this._emit(new Event('connectionCreated', { connection, connections: [connection] }));
    }
    return undefined;
  }

  #onConnectionDestroyed(msg) {
    if (!isConnectionJSON(msg.connection)) return this.#malformed(msg);
    const id = msg.connection.connectionId;
    if (this.connection && id === this.connection.connectionId) return undefined;
    const connection = this.#connections.get(id) || new Connection(msg.connection);
    this.#connections.delete(id);
    if (!this.#suppressConnectionEvents) {
      const reason = str(msg.reason, 'clientDisconnected');
      this._emit(new Event('connectionDestroyed', { connection, connections: [connection], reason }));
    }
    return undefined;
  }

  #onStreamCreated(msg) {
    if (!isStreamJSON(msg.stream)) return this.#malformed(msg);
    const json = msg.stream;
    const known = this.#streams.get(json.streamId);
    if (known) {
      known._update(json);
      return undefined;
    }
    const connection = this.#connectionFor(json.connection);
    const stream = new Stream(json, connection);
    this.#streams.set(stream.streamId, stream);
    if (this.#isOwn(connection)) {
      // Your own stream: it goes to its Publisher (once the publish reply
      // told which one it is).
      const publisher = this.#publisherFor(stream.streamId);
      if (publisher) publisher._onOwnStream(stream);
      return undefined;
    }
    this._emit(new Event('streamCreated', { stream, streams: [stream] }));
    return undefined;
  }

  #onStreamDestroyed(msg) {
    if (!isStreamJSON(msg.stream)) return this.#malformed(msg);
    const stream = this.#streams.get(msg.stream.streamId);
    if (!stream) {
      log.debug('streamDestroyed for an unknown stream', msg.stream.streamId);
      return undefined;
    }
    this.#streams.delete(stream.streamId);
    const reason = str(msg.reason, 'clientDisconnected');
    const subscribers = this.getSubscribersForStream(stream);
    subscribers.forEach((s) => s._streamEnded());
    if (this.#isOwn(stream.connection)) {
      const publisher = this.#publisherFor(stream.streamId);
      if (publisher) publisher._endPublication(reason, { notifyServer: false, dispatch: true });
      subscribers.forEach((s) => s._destroy(reason));
      return undefined;
    }
    this._emit(new Event('streamDestroyed', { stream, streams: [stream], reason }, { cancelable: true }), () =>
      subscribers.forEach((s) => s._destroy(reason)),
    );
    return undefined;
  }

  #onStreamPropertyChanged(msg) {
    if (!isStreamJSON(msg.stream)) return this.#malformed(msg);
    const stream = this.#streams.get(msg.stream.streamId);
    const property = typeof msg.changedProperty === 'string' ? msg.changedProperty : '';
    if (!stream || !property) return undefined;
    const before = clone(stream[property]);
    stream._update(msg.stream);
    const oldValue = msg.oldValue !== undefined ? msg.oldValue : before;
    const newValue = msg.newValue !== undefined ? msg.newValue : clone(stream[property]);
    this.getSubscribersForStream(stream).forEach((s) => s._streamPropertyChanged(property, oldValue, newValue));
    this._emit(new Event('streamPropertyChanged', { stream, changedProperty: property, oldValue, newValue }));
    return undefined;
  }

  #onSignal(msg) {
    const type = typeof msg.signalType === 'string' ? msg.signalType : '';
    const data = typeof msg.data === 'string' ? msg.data : '';
    const from = isConnectionJSON(msg.from) ? this.#connectionFor(msg.from) : null;
    // One event object reaches the 'signal' handlers and, for a typed
    // signal, the 'signal:<type>' handlers; its type is 'signal:<type>'.
    const event = new Event(type ? `signal:${type}` : 'signal', { data, from }, { target: this });
    this._emitAs('signal', event);
    if (type) this._emitAs(`signal:${type}`, event);
  }

  #onMuteForced(msg) {
    const active = msg.active === true;
    if (active) for (const publisher of [...this.#publishers]) publisher._forceMute();
    this._emit(new Event('muteForced', { active }));
  }

  // #onArchive: an archive of the session started or stopped recording
  // (on connecting to a session being recorded, archiveStarted comes with
  // the replay). Handlers get OpenTok.js's ArchiveEvent fields, id and name.
  #onArchive(msg) {
    if (typeof msg.archiveId !== 'string' || !msg.archiveId) return this.#malformed(msg);
    this._emit(new Event(msg.type, { id: msg.archiveId, name: str(msg.name, '') }));
    return undefined;
  }

  #onSubscriberClosed(msg) {
    const id = typeof msg.subscriberId === 'string' ? msg.subscriberId : '';
    for (const subscriber of [...this.#subscribers]) {
      if (id && subscriber._subscriberId === id) subscriber._serverClosed(str(msg.reason, 'networkDisconnected'));
    }
  }

  // #onRelaySubscribe: a subscriber of one of this client's relayed
  // streams wants its media.
  #onRelaySubscribe(msg) {
    const subscriberId = str(msg.subscriberId, '');
    const streamId = str(msg.streamId, '');
    if (!subscriberId || !streamId || !isConnectionJSON(msg.connection)) return this.#malformed(msg);
    const request = {
      subscriberId,
      streamId,
      connectionId: msg.connection.connectionId,
      audio: msg.audio !== false,
      video: msg.video !== false,
    };
    const publisher = this.#publisherFor(streamId);
    if (publisher) {
      publisher._relaySubscribe(request);
      return undefined;
    }
    // The stream's publish reply may not have been read yet.
    const publishing = [...this.#publishers].some((p) => !p._streamId);
    if (!publishing) {
      log.debug('relaySubscribe for a stream this client does not publish', streamId);
      return undefined;
    }
    const now = Date.now();
    this.#earlyRelaySubscribes = this.#earlyRelaySubscribes.filter((e) => now - e.at < EARLY_RELAY_SUBSCRIBE_MS);
    if (this.#earlyRelaySubscribes.length < MAX_EARLY_RELAY_SUBSCRIBES) this.#earlyRelaySubscribes.push({ request, at: now });
    return undefined;
  }

  #takeEarlyRelaySubscribes(streamId) {
    const now = Date.now();
    const taken = [];
    this.#earlyRelaySubscribes = this.#earlyRelaySubscribes.filter((e) => {
      if (now - e.at >= EARLY_RELAY_SUBSCRIBE_MS) return false;
      if (e.request.streamId !== streamId) return true;
      taken.push(e.request);
      return false;
    });
    return taken;
  }

  // #onRelay routes a relayed offer to the subscriber, an answer or a
  // restart request to the publisher, and a candidate to whichever end
  // of the subscription is here (both, when a client subscribes to its
  // own stream).
  #onRelay(msg) {
    const relay = readRelay(msg);
    if (!relay) return this.#malformed(msg);
    let delivered = false;
    if (!relay.offer) {
      for (const publisher of this.#publishers) {
        if (publisher._hasRelayPeer(relay.subscriberId)) {
          publisher._onRelay(relay);
          delivered = true;
        }
      }
    }
    if (!relay.answer && !relay.restart) {
      for (const subscriber of this.#subscribers) {
        if (subscriber._subscriberId === relay.subscriberId) {
          subscriber._onRelay(relay);
          delivered = true;
        }
      }
    }
    if (!delivered) log.debug('relay for an unknown subscription', relay.subscriberId);
    return undefined;
  }

  #onRelayUnsubscribe(msg) {
    const subscriberId = str(msg.subscriberId, '');
    if (!subscriberId) return this.#malformed(msg);
    this.#earlyRelaySubscribes = this.#earlyRelaySubscribes.filter((e) => e.request.subscriberId !== subscriberId);
    for (const publisher of this.#publishers) {
      if (publisher._hasRelayPeer(subscriberId)) publisher._relayUnsubscribe(subscriberId);
    }
    return undefined;
  }

  // publish(publisher, callback?) or publish(target?, properties?,
  // callback?): returns the Publisher. The callback gets an error or
  // nothing once the stream exists.
  publish(publisherOrTarget, properties, completionHandler) {
    let publisher;
    let cb;
    if (publisherOrTarget instanceof Publisher) {
      publisher = publisherOrTarget;
      cb = typeof properties === 'function' ? properties : completionHandler;
    } else {
      const [target, props, callback] = widgetArgs(publisherOrTarget, properties, completionHandler);
      publisher = new Publisher(target, props);
      cb = callback;
    }
    const fail = (error) => {
      safeCall(cb, error);
      if (error.name !== ErrorNames.CANCELED) reportException(error, publisher);
    };
    if (this.#state !== 'connected') {
      defer(() => fail(otError(ErrorNames.NOT_CONNECTED, 'publish: the session is not connected', 1010)));
      return publisher;
    }
    if (!this.capabilities.permittedTo('publish')) {
      defer(() =>
        fail(
          otError(
            ErrorNames.PERMISSION_DENIED,
            'this token does not allow publishing; the role must be publisher, publisheronly or moderator',
            1500,
          ),
        ),
      );
      return publisher;
    }
    if (this.#publishers.has(publisher)) {
      log.warn('publish: this publisher is already publishing in this session');
      defer(() => safeCall(cb, otError(ErrorNames.UNABLE_TO_PUBLISH, 'the publisher is already publishing', 1500)));
      return publisher;
    }
    this.#publishers.add(publisher);
    publisher._publish(this, this.#link).then(
      () => safeCall(cb, undefined),
      (error) => {
        this.#publishers.delete(publisher);
        fail(error);
      },
    );
    return publisher;
  }

  // unpublish(publisher): its stream ends; the publisher's streamDestroyed
  // default action destroys it.
  unpublish(publisher) {
    if (!(publisher instanceof Publisher) || !this.#publishers.has(publisher)) {
      log.warn('unpublish: the publisher is not publishing in this session');
      return;
    }
    // The server reports an unpublished stream with reason clientDisconnected.
    publisher._endPublication('clientDisconnected', { notifyServer: true, dispatch: true });
  }

  // subscribe(stream, target?, properties?, callback?): returns the
  // Subscriber. The callback gets an error or nothing once media flows.
  subscribe(stream, targetElement, properties, completionHandler) {
    const [target, props, cb] = widgetArgs(targetElement, properties, completionHandler);
    const fail = (error) =>
      defer(() => {
        safeCall(cb, error);
        reportException(error, this);
      });
    if (!stream || typeof stream.streamId !== 'string') {
      fail(otError(ErrorNames.INVALID_PARAMETER, 'subscribe needs a Stream', 1011));
      return undefined;
    }
    if (this.#state !== 'connected') {
      fail(otError(ErrorNames.NOT_CONNECTED, 'subscribe: the session is not connected', 1010));
      return undefined;
    }
    if (!this.capabilities.permittedTo('subscribe')) {
      fail(otError(ErrorNames.PERMISSION_DENIED, 'this token does not allow subscribing', 1600));
      return undefined;
    }
    const known = this.#streams.get(stream.streamId);
    if (!known) {
      fail(otError(ErrorNames.STREAM_NOT_FOUND, `stream ${stream.streamId} is not in this session`, 1600));
      return undefined;
    }
    const subscriber = new Subscriber(known, target, props, this, this.#link);
    this.#subscribers.add(subscriber);
    subscriber._subscribe().then(
      () => safeCall(cb, undefined),
      (error) => {
        safeCall(cb, error);
        if (error.name === ErrorNames.CANCELED) return;
        reportException(error, subscriber);
        subscriber._destroy('subscribeFailed');
      },
    );
    return subscriber;
  }

  unsubscribe(subscriber) {
    if (!(subscriber instanceof Subscriber)) {
      log.warn('unsubscribe needs a Subscriber');
      return;
    }
    subscriber._destroy('unsubscribe');
  }

  // signal({type, data, to, retryAfterReconnect}, callback?). Errors carry
  // OpenTok's signal codes: 400 invalid, 404 no such recipient, 413 too
  // large, 500 not connected.
  signal(signal, completionHandler) {
    const cb = typeof signal === 'function' ? signal : completionHandler;
    const promise = this.#signal(isPlainObject(signal) ? signal : {});
    promise.catch(noop);
    callbackify(promise, cb);
  }

  #signal(opts) {
    const invalid = (code, message) => Promise.reject(otError(ErrorNames.INVALID_PARAMETER, message, code));
    const type = opts.type === undefined || opts.type === null ? '' : opts.type;
    const data = opts.data === undefined || opts.data === null ? '' : opts.data;
    if (typeof type !== 'string') return invalid(400, 'the signal type must be a string');
    if (typeof data !== 'string') return invalid(400, 'the signal data must be a string');
    if (type.length > MAX_SIGNAL_TYPE_LENGTH) {
      return invalid(400, `the signal type is longer than ${MAX_SIGNAL_TYPE_LENGTH} characters`);
    }
    if (!SIGNAL_TYPE_CHARS.test(type)) return invalid(400, 'the signal type may only hold A-Z, a-z, 0-9, "-", "_" and "~"');
    if (byteLength(data) > MAX_SIGNAL_DATA_BYTES) return invalid(413, `the signal data is larger than ${MAX_SIGNAL_DATA_BYTES} bytes`);
    const fields = { signalType: type, data };
    if (opts.to !== undefined && opts.to !== null) {
      const to = typeof opts.to === 'string' ? opts.to : opts.to && opts.to.connectionId;
      if (typeof to !== 'string' || !to) return invalid(400, 'signal: "to" must be a Connection');
      fields.to = to;
    }
    const retry = opts.retryAfterReconnect !== false;
    if (this.#state !== 'connected' && !(this.#state === 'reconnecting' && retry)) {
      return Promise.reject(otError(ErrorNames.NOT_CONNECTED, 'signal: the session is not connected', 500));
    }
    return new Promise((resolve, reject) => this.#transmitSignal({ fields, retry, resolve, reject }));
  }

  // #transmitSignal sends a signal now, or queues it while reconnecting.
  // A signal whose link dropped before the answer is sent again after the
  // resume (retryAfterReconnect), so it may arrive twice.
  #transmitSignal(item) {
    if (this.#state === 'reconnecting' && item.retry) {
      this.#signalQueue.push(item);
      return;
    }
    if (this.#state !== 'connected' || !this.#signaling) {
      item.reject(otError(ErrorNames.NOT_CONNECTED, 'signal: the session is not connected', 500));
      return;
    }
    this.#signaling.request('signal', item.fields).then(
      () => item.resolve(),
      (err) => {
        if (err.kind === 'network' && item.retry && this.#state !== 'disconnected') {
          this.#transmitSignal(item);
          return;
        }
        item.reject(errorFromRequest(err, SIGNAL_ERRORS, SIGNAL_FALLBACK));
      },
    );
  }

  // #moderate runs a moderator request; code is the operation's OpenTok
  // code (1520, 1530, 1540).
  #moderate(type, fields, capability, code, notFound) {
    if (this.#state !== 'connected' || !this.#signaling) {
      return Promise.reject(otError(ErrorNames.NOT_CONNECTED, `${type}: the session is not connected`, 1010));
    }
    if (!this.capabilities.permittedTo(capability)) {
      return Promise.reject(otError(ErrorNames.PERMISSION_DENIED, `${type}: this token does not have the moderator role`, code));
    }
    const byCode = {
      400: [ErrorNames.INVALID_PARAMETER, 1011],
      403: [ErrorNames.PERMISSION_DENIED, code],
      404: notFound,
      1010: [ErrorNames.NOT_CONNECTED, 1010],
      [code]: [ErrorNames.PERMISSION_DENIED, code],
      network: [ErrorNames.NOT_CONNECTED, 1010],
    };
    return this.#signaling.request(type, fields).then(
      () => undefined,
      (err) => {
        throw errorFromRequest(err, byCode, [ErrorNames.UNEXPECTED_SERVER_RESPONSE, code]);
      },
    );
  }

  // forceDisconnect(connection, callback?): moderators only.
  forceDisconnect(connection, completionHandler) {
    const id = typeof connection === 'string' ? connection : connection && connection.connectionId;
    const promise =
      typeof id === 'string' && id
        ? this.#moderate('forceDisconnect', { connectionId: id }, 'forceDisconnect', 1520, [ErrorNames.NOT_FOUND, 1520])
        : Promise.reject(otError(ErrorNames.INVALID_PARAMETER, 'forceDisconnect needs a Connection', 1011));
    this.#reportModeration(promise, completionHandler);
  }

  // forceUnpublish(stream, callback?): moderators only.
  forceUnpublish(stream, completionHandler) {
    const id = typeof stream === 'string' ? stream : stream && stream.streamId;
    const promise =
      typeof id === 'string' && id
        ? this.#moderate('forceUnpublish', { streamId: id }, 'forceUnpublish', 1530, [ErrorNames.STREAM_NOT_FOUND, 1535])
        : Promise.reject(otError(ErrorNames.INVALID_PARAMETER, 'forceUnpublish needs a Stream', 1011));
    this.#reportModeration(promise, completionHandler);
  }

  #reportModeration(promise, completionHandler) {
    promise.catch((error) => {
      if (error.code !== 1011) reportException(error, this);
    });
    callbackify(promise, completionHandler);
  }

  // forceMuteStream(stream): Promise. Moderators only.
  forceMuteStream(stream) {
    const id = typeof stream === 'string' ? stream : stream && stream.streamId;
    if (typeof id !== 'string' || !id) {
      return Promise.reject(otError(ErrorNames.INVALID_PARAMETER, 'forceMuteStream needs a Stream', 1011));
    }
    return this.#moderate('forceMuteStream', { streamId: id }, 'forceMute', 1540, [ErrorNames.STREAM_NOT_FOUND, 1540]);
  }

  // forceMuteAll(excludedStreams?): Promise. Moderators only.
  forceMuteAll(excludedStreams) {
    const list = excludedStreams === undefined || excludedStreams === null ? [] : excludedStreams;
    if (!Array.isArray(list)) {
      return Promise.reject(otError(ErrorNames.INVALID_PARAMETER, 'forceMuteAll takes an array of Streams', 1011));
    }
    const ids = [];
    for (const s of list) {
      const id = typeof s === 'string' ? s : s && s.streamId;
      if (typeof id !== 'string' || !id) {
        return Promise.reject(otError(ErrorNames.INVALID_PARAMETER, 'forceMuteAll: excludedStreams must hold Streams', 1011));
      }
      ids.push(id);
    }
    return this.#moderate('forceMuteAll', ids.length ? { excludedStreamIds: ids } : {}, 'forceMute', 1540, [
      ErrorNames.STREAM_NOT_FOUND,
      1540,
    ]);
  }

  // disableForceMute(): Promise. Moderators only.
  disableForceMute() {
    return this.#moderate('disableForceMute', {}, 'forceMute', 1540, [ErrorNames.NOT_FOUND, 1540]);
  }

  getPublisherForStream(stream) {
    const id = stream && stream.streamId;
    if (!id) return undefined;
    for (const publisher of this.#publishers) if (publisher.stream && publisher.stream.streamId === id) return publisher;
    return undefined;
  }

  getSubscribersForStream(stream) {
    const id = stream && stream.streamId;
    if (!id) return [];
    return [...this.#subscribers].filter((s) => s.stream && s.stream.streamId === id);
  }

  // setIceConfig(iceConfig) applies to peer connections created later.
  setIceConfig(iceConfig) {
    if (!isPlainObject(iceConfig)) {
      log.warn('setIceConfig needs an object {includeServers, transportPolicy, customServers}');
      return;
    }
    this.#iceConfig = iceConfig;
  }
}
