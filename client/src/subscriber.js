// Subscriber: one remote stream played in a widget through one
// receive-only RTCPeerConnection. The server offers (it decides what is
// sent); the client answers (docs/protocol.md, "Subscribing"). In a
// relayed session the offer comes from the publisher's browser, and the
// media too (relay.js).

import { Event, EventEmitter } from './events.js';
import { ErrorNames, OTError, errorFromRequest, otError } from './errors.js';
import { createLogger } from './log.js';
import { AudioLevelMeter } from './media.js';
import {
  CandidateTrickler,
  closePeerConnection,
  createPeerConnection,
  selectedPairsOnly,
  subscriberStats,
  waitForConnected,
  waitForGathering,
} from './peer.js';
import { RelayReceiver } from './relay.js';
import { callbackify, noop } from './util.js';
import { Widget } from './widget.js';

const log = createLogger('Subscriber');

const SUBSCRIBE_ERRORS = {
  400: [ErrorNames.INVALID_PARAMETER, 1600],
  403: [ErrorNames.PERMISSION_DENIED, 1600],
  404: [ErrorNames.STREAM_NOT_FOUND, 1600],
  1010: [ErrorNames.NOT_CONNECTED, 1010],
  1600: [ErrorNames.UNABLE_TO_SUBSCRIBE, 1600],
  1601: [ErrorNames.UNABLE_TO_SUBSCRIBE, 1601],
};
const SUBSCRIBE_FALLBACK = [ErrorNames.UNABLE_TO_SUBSCRIBE, 1600];

// How long a new subscription may take to get its media link up.
const CONNECT_TIMEOUT_MS = 20000;
const ICE_RESTART_INTERVAL_MS = 5000;

// Every subscriber that has not been destroyed, for OT.unblockAudio()
// and OT.setAudioOutputDevice().
const live = new Set();
let audioOutputDeviceId = '';
let gestureListening = false;

function canceled(what) {
  return otError(ErrorNames.CANCELED, what, 1600);
}

function clampVolume(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return 100;
  return Math.max(0, Math.min(100, Math.round(n)));
}

// OT.unblockAudio(): play the audio that autoplay rules held back. It must
// run in a user gesture (a click handler).
export function unblockAudio() {
  return Promise.all([...live].map((s) => s._unblockAudio())).then(noop);
}

// After a click, keydown or touch anywhere, audio may play: try then.
function listenForGesture() {
  if (gestureListening || typeof document === 'undefined') return;
  gestureListening = true;
  const events = ['click', 'keydown', 'touchend'];
  const onGesture = () => {
    events.forEach((type) => document.removeEventListener(type, onGesture, true));
    gestureListening = false;
    unblockAudio().catch(noop);
  };
  events.forEach((type) => document.addEventListener(type, onGesture, true));
}

// OT.setAudioOutputDevice(deviceId): the speaker for every subscriber.
export async function setAudioOutputDevice(deviceId) {
  audioOutputDeviceId = typeof deviceId === 'string' ? deviceId : '';
  await Promise.all([...live].map((s) => s._applyAudioOutput()));
}

export function getActiveAudioOutputDeviceId() {
  return audioOutputDeviceId;
}

export class Subscriber extends EventEmitter {
  #widget;
  #link;
  #pc = null;
  #trickler = null;
  #relay = null; // RelayReceiver, in a relayed session
  #subscriberId = '';
  #subscribeToAudio;
  #subscribeToVideo;
  #sentMedia = null; // {audio, video} the server last accepted
  #audioVolume;
  #mediaStream = null;
  #meter = null;
  #ended = false; // the stream or the subscription is gone: no media any more
  #destroyed = false;
  #audioBlocked = false;
  #videoElementAnnounced = false;
  #mediaConnected = false;
  #restarting = false;
  #lastRestart = 0;
  #dimensions = null;
  #preferred = { resolution: null, frameRate: null, restrictFrameRate: false };
  #sentResolution = null; // what the server last accepted

  // link is the session's internal interface (see session.js).
  constructor(stream, target, props, session, link) {
    super();
    this.stream = stream;
    this.session = session;
    this.#link = link;
    this.#subscribeToAudio = props.subscribeToAudio !== false;
    this.#subscribeToVideo = props.subscribeToVideo !== false;
    this.#audioVolume = clampVolume(props.audioVolume === undefined ? 100 : props.audioVolume);
    if (props.preferredResolution && typeof props.preferredResolution === 'object') {
      this.#preferred.resolution = { ...props.preferredResolution };
    }
    if (typeof props.preferredFrameRate === 'number') this.#preferred.frameRate = props.preferredFrameRate;

    this.#widget = new Widget('subscriber', target, {
      insertMode: props.insertMode,
      insertDefaultUI: props.insertDefaultUI,
      width: props.width,
      height: props.height,
      fitMode: props.fitMode,
      name: stream.name,
      style: props.style,
    });
    this.element = this.#widget.element;
    this.id = this.#widget.id;
    this.#widget.setAudioMuted(!stream.hasAudio);
    this.#widget.setVideoDisabled(!stream.hasVideo || !this.#subscribeToVideo);
    const video = this.#widget.video;
    if (video) {
      video.volume = this.#audioVolume / 100;
      video.muted = !this.#subscribeToAudio;
      video.addEventListener('resize', () => this.#onVideoResize());
    }
    live.add(this);

    // OpenTok.js exposes .promise forms of these.
    for (const name of ['subscribeToAudio', 'subscribeToVideo', 'setAudioVolume', 'restrictFrameRate']) {
      const bound = this[name].bind(this);
      bound.promise = (value) => new Promise((resolve) => resolve(bound(value)));
      this[name] = bound;
    }
  }

  // _subscribe asks the server for the stream and answers its offer (the
  // publisher's, relayed, in a relayed session). It resolves once the
  // media link is connected.
  async _subscribe() {
    const link = this.#link;
    const requested = { audio: this.#subscribeToAudio, video: this.#subscribeToVideo };
    const preferred = preferredResolution(this.#preferred.resolution);
    let reply;
    try {
      reply = await link.request('subscribe', {
        streamId: this.stream.streamId,
        ...requested,
        ...(preferred ? { preferredResolution: preferred } : {}),
      });
    } catch (err) {
      throw errorFromRequest(err, SUBSCRIBE_ERRORS, SUBSCRIBE_FALLBACK);
    }
    const id = reply && typeof reply.subscriberId === 'string' ? reply.subscriberId : '';
    // A relayed subscription's offer comes later, from the publisher.
    const relayed = Boolean(reply && reply.relayed === true);
    if (!id || (!relayed && (typeof reply.offer !== 'string' || !reply.offer))) {
      if (id) link.request('unsubscribe', { subscriberId: id }).catch(noop);
      throw otError(ErrorNames.UNEXPECTED_SERVER_RESPONSE, 'the subscribe reply has no subscriberId or offer', 1600);
    }
    if (this.#destroyed || this.#ended) {
      link.request('unsubscribe', { subscriberId: id }).catch(noop);
      throw canceled('the subscriber was destroyed');
    }
    this.#subscriberId = id;
    this.#sentMedia = requested;
    this.#sentResolution = preferred;
    try {
      const pc = createPeerConnection(link.rtcConfiguration());
      this.#pc = pc;
      pc.addEventListener('track', (e) => this.#onTrack(e));
      pc.addEventListener('connectionstatechange', () => this.#onConnectionState(pc));
      // A relayed subscription waits for the publisher's offer, which may
      // follow the reply at once: the receiver exists before any await.
      // Failing to answer it ends the wait for the media link.
      const negotiation = new AbortController();
      if (relayed) {
        this.#relay = new RelayReceiver(pc, link, id, (err) => negotiation.abort(err));
      } else {
        this.#trickler = new CandidateTrickler(pc, (pcId, candidate) => link.notify('candidate', { pc: pcId, candidate }));
        this.#trickler.setId(id);
        await this.#answer(pc, reply.offer);
        this.#syncMedia();
      }
      try {
        await waitForConnected(pc, CONNECT_TIMEOUT_MS, negotiation.signal);
      } catch (err) {
        this.#check(pc);
        throw otError(ErrorNames.UNABLE_TO_SUBSCRIBE, `unable to subscribe: ${err.message}`, 1600);
      }
      this.#check(pc);
    } catch (err) {
      if (err instanceof OTError) throw err;
      throw otError(ErrorNames.UNABLE_TO_SUBSCRIBE, `unable to subscribe: ${(err && err.message) || err}`, 1600);
    }
  }

  #check(pc) {
    if (this.#pc !== pc || this.#destroyed || this.#ended) throw canceled('the subscription ended');
  }

  // #answer applies a server offer and sends the answer.
  async #answer(pc, offer) {
    this.#trickler.negotiating();
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    this.#check(pc);
    const answer = await pc.createAnswer();
    this.#check(pc);
    await pc.setLocalDescription(answer);
    await waitForGathering(pc);
    this.#check(pc);
    const sdp = pc.localDescription.sdp;
    this.#trickler.sdpSent();
    try {
      await this.#link.request('answer', { subscriberId: this.#subscriberId, sdp });
    } catch (err) {
      throw errorFromRequest(err, SUBSCRIBE_ERRORS, SUBSCRIBE_FALLBACK);
    }
  }

  // _onRelay: the publisher's offer or candidate (relayed session).
  _onRelay(relay) {
    if (!this.#relay || this.#ended || this.#destroyed) return;
    this.#relay.handle(relay);
  }

  #onTrack(e) {
    if (this.#destroyed) return;
    if (this.#relay) e.track.enabled = e.track.kind === 'audio' ? this.#subscribeToAudio : this.#subscribeToVideo;
    const tracks = this.#mediaStream ? this.#mediaStream.getTracks() : [];
    if (!tracks.includes(e.track)) tracks.push(e.track);
    this.#mediaStream = new MediaStream(tracks);
    this.#widget.setStream(this.#mediaStream);
    this.#applyAudioOutput();
    this.#play();
    if (!this.#videoElementAnnounced && this.#widget.video) {
      this.#videoElementAnnounced = true;
      this._emit(new Event('videoElementCreated', { element: this.#widget.video }));
    }
    this._emit(new Event('mediaStreamAvailable', { mediaStream: this.#mediaStream }));
    this.#updateMeter();
  }

  // #play starts playback; when autoplay rules block sound, it plays
  // muted, reports 'audioBlocked' and waits for a user gesture.
  #play() {
    const video = this.#widget.video;
    if (!video) return;
    video.muted = !this.#subscribeToAudio || this.#audioBlocked;
    const played = video.play();
    if (!played || typeof played.then !== 'function') return;
    played.catch((err) => {
      if (this.#destroyed) return;
      if (err && err.name === 'NotAllowedError' && !video.muted) {
        this.#audioBlocked = true;
        video.muted = true;
        this._emit(new Event('audioBlocked'));
        video.play().catch(noop);
        listenForGesture();
      } else if (!err || err.name !== 'AbortError') {
        log.debug('playback failed:', err);
      }
    });
  }

  _unblockAudio() {
    const video = this.#widget.video;
    if (!this.#audioBlocked || !video || this.#destroyed) return Promise.resolve();
    video.muted = !this.#subscribeToAudio;
    return video.play().then(
      () => {
        this.#audioBlocked = false;
        this._emit(new Event('audioUnblocked'));
      },
      () => {
        video.muted = true;
        video.play().catch(noop);
      },
    );
  }

  _applyAudioOutput() {
    return this.#applyAudioOutput();
  }

  #applyAudioOutput() {
    const video = this.#widget.video;
    if (!video || typeof video.setSinkId !== 'function' || video.sinkId === audioOutputDeviceId) return Promise.resolve();
    return video.setSinkId(audioOutputDeviceId).catch((err) => log.warn('cannot set the audio output device:', err));
  }

  isAudioBlocked() {
    return this.#audioBlocked;
  }

  #onConnectionState(pc) {
    if (pc !== this.#pc) return;
    const state = pc.connectionState;
    log.debug('media link', state);
    if (state === 'connected' && !this.#mediaConnected) {
      this.#mediaConnected = true;
      this._emit(new Event('connected'));
    } else if ((state === 'disconnected' || state === 'failed') && this.#mediaConnected) {
      this.#mediaConnected = false;
      this._emit(new Event('disconnected'));
    }
    if (state === 'failed' && this.#link.isConnected() && Date.now() - this.#lastRestart > ICE_RESTART_INTERVAL_MS) {
      this._restartIce();
    }
  }

  _isMediaConnected() {
    return Boolean(this.#pc && this.#pc.connectionState === 'connected');
  }

  // _restartIce asks the server for an offer with new ICE credentials
  // (restartIce {subscriberId}) and answers it.
  async _restartIce() {
    const pc = this.#pc;
    if (!pc || !this.#subscriberId || this.#restarting || this.#ended || this.#destroyed) return;
    this.#lastRestart = Date.now();
    if (this.#relay) {
      // The publisher answers with an offer carrying new credentials.
      log.debug('asking the publisher for an ICE restart');
      await this.#relay.requestRestart();
      return;
    }
    this.#restarting = true;
    try {
      const reply = await this.#link.request('restartIce', { subscriberId: this.#subscriberId });
      this.#check(pc);
      if (!reply || typeof reply.offer !== 'string' || !reply.offer) throw new Error('the restartIce reply has no offer');
      await this.#answer(pc, reply.offer);
      log.debug('ICE restarted');
    } catch (err) {
      if (!(err instanceof OTError && err.name === ErrorNames.CANCELED)) {
        log.warn('ICE restart failed:', (err && err.message) || err);
      }
    } finally {
      this.#restarting = false;
    }
  }

  // _afterReconnect: the session resumed; re-send media choices made
  // meanwhile and restart ICE if the media link broke.
  _afterReconnect() {
    if (this.#ended || this.#destroyed || !this.#subscriberId) return;
    this.#syncMedia();
    if (!this._isMediaConnected()) this._restartIce();
  }

  // #syncMedia sends setMedia when the wanted audio/video differ from what
  // the server last accepted. A relayed subscription just turns its
  // received tracks on or off.
  #syncMedia() {
    if (this.#relay) {
      this.#syncRelayedMedia();
      return;
    }
    if (!this.#subscriberId || this.#ended || this.#destroyed || !this.#link.isConnected()) return;
    const want = { audio: this.#subscribeToAudio, video: this.#subscribeToVideo };
    const sent = this.#sentMedia;
    if (sent && sent.audio === want.audio && sent.video === want.video) return;
    this.#link
      .request('setMedia', { subscriberId: this.#subscriberId, ...want })
      .then(() => {
        this.#sentMedia = want;
        this.#syncMedia(); // in case it changed again meanwhile
      })
      .catch((err) => log.warn('setMedia failed:', err.message));
  }

  #syncRelayedMedia() {
    const tracks = this.#mediaStream ? this.#mediaStream.getTracks() : [];
    for (const track of tracks) track.enabled = track.kind === 'audio' ? this.#subscribeToAudio : this.#subscribeToVideo;
    const asked = this.#sentMedia || { audio: true, video: true };
    if ((this.#subscribeToAudio && !asked.audio) || (this.#subscribeToVideo && !asked.video)) {
      log.warn('in a relayed session, media not asked for when subscribing cannot be turned on later');
    }
  }

  subscribeToAudio(value) {
    const on = value === undefined ? true : Boolean(value);
    this.#subscribeToAudio = on;
    const video = this.#widget.video;
    if (video) video.muted = !on || this.#audioBlocked;
    this.#syncMedia();
    return this;
  }

  subscribeToVideo(value) {
    const on = value === undefined ? true : Boolean(value);
    if (on === this.#subscribeToVideo) return this;
    this.#subscribeToVideo = on;
    this.#widget.setVideoDisabled(!on || !this.stream.hasVideo);
    this.#syncMedia();
    this._emit(new Event(on ? 'videoEnabled' : 'videoDisabled', { reason: 'subscribeToVideo' }));
    return this;
  }

  setAudioVolume(value) {
    this.#audioVolume = clampVolume(value);
    const video = this.#widget.video;
    if (video) video.volume = this.#audioVolume / 100;
    return this;
  }

  getAudioVolume() {
    return this.#audioVolume;
  }

  // The SFU sends the best simulcast layer of the stream no larger than
  // this; null or 'auto' asks for the best one.
  setPreferredResolution(resolution) {
    this.#preferred.resolution = resolution && typeof resolution === 'object' ? { ...resolution } : null;
    this.#syncResolution();
    return this;
  }

  // #syncResolution tells the server the preferred resolution when it
  // differs from what the server last accepted. Relayed subscriptions get
  // the publisher's one encoding.
  #syncResolution() {
    if (this.#relay || !this.#subscriberId || this.#ended || this.#destroyed || !this.#link.isConnected()) return;
    const want = preferredResolution(this.#preferred.resolution);
    const sent = this.#sentResolution;
    if ((want && sent && want.width === sent.width && want.height === sent.height) || (!want && !sent)) return;
    this.#link
      .request('setPreferredResolution', {
        subscriberId: this.#subscriberId,
        preferredResolution: want || { width: 0, height: 0 },
      })
      .then(() => {
        this.#sentResolution = want;
        this.#syncResolution(); // in case it changed again meanwhile
      })
      .catch((err) => log.warn('setPreferredResolution failed:', err.message));
  }

  setPreferredFrameRate(frameRate) {
    this.#preferred.frameRate = typeof frameRate === 'number' ? frameRate : null;
    return this;
  }

  restrictFrameRate(value) {
    this.#preferred.restrictFrameRate = Boolean(value);
    return this;
  }

  // _streamPropertyChanged: the session updated this.stream.
  _streamPropertyChanged(property, oldValue, newValue) {
    if (property === 'hasVideo') {
      this.#widget.setVideoDisabled(!newValue || !this.#subscribeToVideo);
      if (this.#subscribeToVideo && oldValue !== newValue) {
        this._emit(new Event(newValue ? 'videoEnabled' : 'videoDisabled', { reason: 'publishVideo' }));
      }
    } else if (property === 'hasAudio') {
      this.#widget.setAudioMuted(!newValue);
    }
  }

  #onVideoResize() {
    const video = this.#widget.video;
    if (!video || !video.videoWidth || !video.videoHeight) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.#dimensions;
    this.#dimensions = next;
    if (prev && (prev.width !== next.width || prev.height !== next.height)) {
      this._emit(new Event('videoDimensionsChanged', { oldValue: prev, newValue: { ...next } }));
    }
  }

  _listenersChanged(type) {
    if (type === 'audioLevelUpdated') this.#updateMeter();
  }

  #updateMeter() {
    const track = this.#mediaStream && !this.#destroyed && !this.#ended ? this.#mediaStream.getAudioTracks()[0] : null;
    if (!track || !this._hasListeners('audioLevelUpdated')) {
      if (this.#meter) this.#meter.stop();
      return;
    }
    if (!this.#meter) {
      this.#meter = new AudioLevelMeter((audioLevel) => this._emit(new Event('audioLevelUpdated', { audioLevel })));
    }
    if (this.#meter.track !== track) this.#meter.start(track);
  }

  getStats(completionHandler) {
    const pc = this.#pc;
    const promise =
      pc && !this.#ended
        ? pc.getStats().then((report) => subscriberStats(report))
        : Promise.reject(otError(ErrorNames.NOT_CONNECTED, 'the subscriber has no media connection', 1010));
    return callbackify(promise, completionHandler);
  }

  getRtcStatsReport() {
    const pc = this.#pc;
    if (!pc || this.#ended) return Promise.reject(otError(ErrorNames.NOT_CONNECTED, 'the subscriber has no media connection', 1010));
    return pc.getStats().then(selectedPairsOnly);
  }

  getImgData() {
    return this.#widget.snapshot();
  }

  videoWidth() {
    const video = this.#widget.video;
    return (video && video.videoWidth) || 0;
  }

  videoHeight() {
    const video = this.#widget.video;
    return (video && video.videoHeight) || 0;
  }

  // _streamEnded: the stream (or the session) is gone; the media stops
  // but the element stays until _destroy (the default action).
  _streamEnded() {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopMedia();
  }

  // _serverClosed: the SFU ended this subscription (subscriberClosed).
  // After the stream's end it changes nothing: streamDestroyed's default
  // action (which the app may have prevented) decides about the widget.
  _serverClosed(reason) {
    if (this.#ended) return;
    const wasConnected = this.#mediaConnected;
    this._streamEnded();
    // The server ends the subscriptions of a destroyed stream just before
    // it sends streamDestroyed: leave the widget to that event.
    if (reason === 'streamDestroyed') return;
    if (wasConnected) this._emit(new Event('disconnected'));
    this._destroy(reason || 'networkDisconnected');
  }

  get _subscriberId() {
    return this.#subscriberId;
  }

  #stopMedia() {
    if (this.#meter) this.#meter.stop();
    if (this.#relay) this.#relay.close();
    closePeerConnection(this.#pc);
    this.#mediaConnected = false;
  }

  // _destroy unsubscribes (unless the server already ended it), removes
  // the widget and dispatches 'destroyed'.
  _destroy(reason) {
    if (this.#destroyed) return;
    if (!this.#ended && this.#subscriberId && this.#link.isConnected()) {
      this.#link.request('unsubscribe', { subscriberId: this.#subscriberId }).catch((err) => log.debug('unsubscribe:', err.message));
    }
    this.#destroyed = true;
    this.#ended = true;
    this.#stopMedia();
    this.#pc = null;
    this.#widget.remove();
    live.delete(this);
    this.#link.subscriberGone(this);
    this.element = undefined;
    this._emit(new Event('destroyed', { reason }));
  }
}

// preferredResolution turns a {width, height} preference into what the
// server takes (whole pixels, 0 for a side left out), or null for none.
function preferredResolution(r) {
  if (!r || typeof r !== 'object') return null;
  const side = (v) => (Number.isFinite(Number(v)) && Number(v) > 0 ? Math.min(Math.round(Number(v)), 16384) : 0);
  const width = side(r.width);
  const height = side(r.height);
  return width || height ? { width, height } : null;
}
