// Publisher: local media (camera, microphone, screen or the app's tracks)
// shown in a widget, and once Session.publish() is called, one send-only
// RTCPeerConnection to the SFU. The client offers; the server answers
// (docs/protocol.md, "Publishing"). In a relayed session there is no SFU:
// the publisher opens one send-only peer connection per subscriber
// instead (relay.js).

import { Event, EventEmitter } from './events.js';
import { ErrorNames, OTError, errorFromRequest, otError } from './errors.js';
import { reportException } from './exceptions.js';
import { createLogger } from './log.js';
import {
  AudioLevelMeter,
  acquireMedia,
  captureTrack,
  getDevices,
  isAccessDenied,
  isScreenSource,
  isTrack,
  mediaError,
  parseResolution,
} from './media.js';
import {
  CandidateTrickler,
  closePeerConnection,
  createPeerConnection,
  publisherStats,
  selectedPairsOnly,
  waitForGathering,
} from './peer.js';
import { RelaySender } from './relay.js';
import { callbackify, noop, safeCall } from './util.js';
import { Widget, widgetArgs } from './widget.js';

const log = createLogger('Publisher');

const PUBLISH_ERRORS = {
  400: [ErrorNames.INVALID_PARAMETER, 1500],
  403: [ErrorNames.PERMISSION_DENIED, 1500],
  409: [ErrorNames.STREAM_LIMIT_EXCEEDED, 1500],
  1010: [ErrorNames.NOT_CONNECTED, 1010],
  1500: [ErrorNames.UNABLE_TO_PUBLISH, 1500],
};
const PUBLISH_FALLBACK = [ErrorNames.UNABLE_TO_PUBLISH, 1500];

// An ICE restart after the media link failed waits at least this long
// after the previous one.
const ICE_RESTART_INTERVAL_MS = 5000;

function canceled(what) {
  return otError(ErrorNames.CANCELED, what, 1500);
}

function stopTrack(track) {
  try {
    track.stop();
  } catch {
    // already stopped
  }
}

// SIMULCAST_ENCODINGS are the layers of a simulcast video, lowest first
// (the SFU reads q, h and f in that order): a quarter, a half and the
// whole picture, with the bitrates browsers use for 720p.
const SIMULCAST_ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1500000 },
];

export class Publisher extends EventEmitter {
  #props;
  #widget;
  #audioTrack = null;
  #videoTrack = null;
  #videoType = 'camera';
  #owned = new Set(); // tracks the SDK captured, and stops
  #trackListeners = new Map(); // track → its 'ended' listener
  #publishAudio;
  #publishVideo;
  #media; // Promise of the capture
  #pub = null; // the current publication, see _publish
  #meter = null;
  #destroyed = false;
  #dimensions = null;

  constructor(target, properties = {}) {
    super();
    const props = { ...properties };
    this.#props = props;
    this.#publishAudio = props.publishAudio !== false;
    this.#publishVideo = props.publishVideo !== false;
    this.accessAllowed = false;
    this.stream = undefined;
    this.session = undefined;

    this.#widget = new Widget('publisher', target, {
      insertMode: props.insertMode,
      insertDefaultUI: props.insertDefaultUI,
      width: props.width,
      height: props.height,
      fitMode: props.fitMode,
      name: typeof props.name === 'string' ? props.name : '',
      style: props.style,
    });
    this.element = this.#widget.element;
    this.id = this.#widget.id;
    this.#widget.setMirror(props.mirror !== undefined ? Boolean(props.mirror) : !isScreenSource(props.videoSource));
    if (this.#widget.video) this.#widget.video.addEventListener('resize', () => this.#onVideoResize());

    // OpenTok.js exposes .promise forms of these two.
    const publishAudio = this.publishAudio.bind(this);
    publishAudio.promise = (value) => new Promise((resolve) => resolve(publishAudio(value)));
    this.publishAudio = publishAudio;
    const publishVideo = this.publishVideo.bind(this);
    publishVideo.promise = (value) =>
      new Promise((resolve, reject) => publishVideo(value, (err) => (err ? reject(err) : resolve())));
    this.publishVideo = publishVideo;

    this.#media = this.#capture();
    this.#media.catch(noop); // callers of _ready() / _publish() see the error
  }

  // _ready resolves once the media is captured (initPublisher's callback).
  _ready() {
    return this.#media;
  }

  async #capture() {
    let dialogOpen = false;
    try {
      const media = await acquireMedia(this.#props, {
        onPrompt: () => {
          if (this.#destroyed) return;
          dialogOpen = true;
          this._emit(new Event('accessDialogOpened', {}, { cancelable: true }));
        },
      });
      if (dialogOpen) {
        dialogOpen = false;
        this._emit(new Event('accessDialogClosed'));
      }
      if (this.#destroyed) {
        media.owned.forEach(stopTrack);
        throw canceled('the publisher was destroyed');
      }
      media.owned.forEach((t) => this.#owned.add(t));
      this.#audioTrack = media.audioTrack;
      this.#videoTrack = media.videoTrack;
      this.#videoType = media.videoType;
      for (const track of [this.#audioTrack, this.#videoTrack]) if (track) this.#watchTrack(track);
      if (this.#audioTrack) this.#audioTrack.enabled = this.#publishAudio;
      if (this.#videoTrack) this.#videoTrack.enabled = this.#publishVideo;
      this.#widget.setAudioMuted(!this.#audioTrack || !this.#publishAudio);
      this.#widget.setVideoDisabled(!this.#videoTrack || !this.#publishVideo);
      const mediaStream = this.#refreshPreview();
      this.accessAllowed = true;
      this._emit(new Event('accessAllowed'));
      if (this.#widget.video) this._emit(new Event('videoElementCreated', { element: this.#widget.video }));
      this._emit(new Event('mediaStreamAvailable', { mediaStream }));
      this.#updateMeter();
    } catch (err) {
      if (dialogOpen) this._emit(new Event('accessDialogClosed'));
      const error = err instanceof OTError ? err : mediaError(err);
      if (!this.#destroyed && isAccessDenied(error)) {
        this._emit(new Event('accessDenied', { message: error.message, code: error.code, name: error.name }));
      }
      throw error;
    }
  }

  get #mediaStream() {
    return new MediaStream([this.#audioTrack, this.#videoTrack].filter(Boolean));
  }

  #refreshPreview() {
    const mediaStream = this.#mediaStream;
    this.#widget.setStream(mediaStream);
    return mediaStream;
  }

  #watchTrack(track) {
    if (this.#trackListeners.has(track)) return;
    const onEnded = () => this.#onTrackEnded(track);
    track.addEventListener('ended', onEnded);
    this.#trackListeners.set(track, onEnded);
  }

  #unwatchTrack(track) {
    const onEnded = this.#trackListeners.get(track);
    if (onEnded) track.removeEventListener('ended', onEnded);
    this.#trackListeners.delete(track);
  }

  // A track ended without us (screen sharing stopped from the browser's
  // bar, a camera unplugged). The default action, unless prevented, ends
  // the publisher when it has nothing left to send.
  #onTrackEnded(track) {
    if (this.#destroyed) return;
    const event = new Event('mediaStopped', { track }, { cancelable: true });
    this._emit(event, () => {
      const live = [this.#audioTrack, this.#videoTrack].filter((t) => t && t.readyState !== 'ended');
      const screenEnded = this.#videoType === 'screen' && track === this.#videoTrack;
      if (screenEnded || live.length === 0) {
        this._endPublication('mediaStopped', { notifyServer: true, dispatch: true });
        this.destroy();
      }
    });
  }

  #onVideoResize() {
    const video = this.#widget.video;
    if (!video || !video.videoWidth || !video.videoHeight) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.#dimensions;
    this.#dimensions = next;
    if (!prev || prev.width !== next.width || prev.height !== next.height) {
      if (prev) this._emit(new Event('videoDimensionsChanged', { oldValue: prev, newValue: { ...next } }));
      this.#syncProperty('videoDimensions', next).catch(noop);
    }
  }

  _listenersChanged(type) {
    if (type === 'audioLevelUpdated') this.#updateMeter();
  }

  // The meter runs only while someone listens to 'audioLevelUpdated'.
  #updateMeter() {
    const want = !this.#destroyed && this.#audioTrack && this._hasListeners('audioLevelUpdated');
    if (!want) {
      if (this.#meter) this.#meter.stop();
      return;
    }
    if (!this.#meter) {
      this.#meter = new AudioLevelMeter((audioLevel) => this._emit(new Event('audioLevelUpdated', { audioLevel })));
    }
    if (this.#meter.track !== this.#audioTrack) this.#meter.start(this.#audioTrack);
  }

  // publishAudio(bool) mutes or unmutes the microphone; others see the
  // stream's hasAudio change.
  publishAudio(value) {
    const on = Boolean(value);
    this.#publishAudio = on;
    if (this.#audioTrack) this.#audioTrack.enabled = on;
    this.#widget.setAudioMuted(!on || !this.#audioTrack);
    if (on && !this.#audioTrack && this.accessAllowed) log.warn('publishAudio(true): this publisher has no audio source');
    this.#syncProperty('hasAudio', on && Boolean(this.#audioTrack)).catch(noop);
    return this;
  }

  // publishVideo(bool, callback?) turns the video on or off; others see
  // the stream's hasVideo change.
  publishVideo(value, completionHandler) {
    const on = Boolean(value);
    this.#publishVideo = on;
    if (this.#videoTrack) this.#videoTrack.enabled = on;
    this.#widget.setVideoDisabled(!on || !this.#videoTrack);
    if (on && !this.#videoTrack && this.accessAllowed) log.warn('publishVideo(true): this publisher has no video source');
    const synced = this.#syncProperty('hasVideo', on && Boolean(this.#videoTrack));
    synced.catch(noop);
    callbackify(synced, completionHandler);
    return this;
  }

  // #syncProperty tells the server about a stream property, at most once
  // per value (the last value sent is remembered per publication).
  #syncProperty(property, value) {
    const pub = this.#pub;
    if (!pub || !pub.stream) return Promise.resolve();
    const same =
      property === 'videoDimensions'
        ? pub.sent.videoDimensions &&
          pub.sent.videoDimensions.width === value.width &&
          pub.sent.videoDimensions.height === value.height
        : pub.sent[property] === value;
    if (same) return Promise.resolve();
    pub.sent[property] = property === 'videoDimensions' ? { ...value } : value;
    if (!pub.link.isConnected()) return Promise.resolve(); // synced after reconnecting
    return pub.link.request('updateStream', { streamId: pub.streamId, property, value }).then(
      () => undefined,
      (err) => {
        log.warn(`cannot update the stream's ${property}:`, err.message);
        throw errorFromRequest(err, {}, [ErrorNames.UNEXPECTED_SERVER_RESPONSE, 2001]);
      },
    );
  }

  #desiredProperties() {
    const dims = this.#dimensions || this.#trackDimensions();
    return {
      hasAudio: this.#publishAudio && Boolean(this.#audioTrack),
      hasVideo: this.#publishVideo && Boolean(this.#videoTrack),
      videoDimensions: dims,
    };
  }

  #trackDimensions() {
    if (!this.#videoTrack) return null;
    const settings = typeof this.#videoTrack.getSettings === 'function' ? this.#videoTrack.getSettings() : {};
    const fallback = parseResolution(this.#props.resolution) || { width: 640, height: 480 };
    return {
      width: Math.round(settings.width || fallback.width),
      height: Math.round(settings.height || fallback.height),
    };
  }

  // #simulcast says whether the video goes out as simulcast layers:
  // scalableVideo for a camera (scalableScreenshare for a screen), large
  // enough that a quarter-size layer is worth sending.
  #simulcast() {
    const props = this.#props;
    const screen = this.#videoType === 'screen';
    if (!(screen ? props.scalableScreenshare === true : props.scalableVideo === true)) return false;
    const settings = this.#videoTrack.getSettings ? this.#videoTrack.getSettings() : {};
    return (settings.height || 0) >= 240;
  }

  #streamSpec() {
    const desired = this.#desiredProperties();
    const spec = {
      name: typeof this.#props.name === 'string' ? this.#props.name : '',
      hasAudio: desired.hasAudio,
      hasVideo: desired.hasVideo,
    };
    if (this.#videoTrack) {
      spec.videoType = this.#videoType;
      spec.videoDimensions = desired.videoDimensions;
      const settings = typeof this.#videoTrack.getSettings === 'function' ? this.#videoTrack.getSettings() : {};
      const frameRate = Math.round(settings.frameRate || Number(this.#props.frameRate) || 0);
      if (frameRate > 0) spec.frameRate = frameRate;
    }
    return spec;
  }

  // _publish sends the media to session (Session.publish calls it with
  // its link). It resolves once the stream exists.
  async _publish(session, link) {
    if (this.#destroyed) throw otError(ErrorNames.UNABLE_TO_PUBLISH, 'the publisher was destroyed', 1500);
    if (this.#pub) throw otError(ErrorNames.UNABLE_TO_PUBLISH, 'the publisher is already publishing', 1500);
    const pub = {
      session,
      link,
      pc: null,
      trickler: null,
      streamId: '',
      stream: null,
      sent: {},
      restarting: false,
      lastRestart: 0,
      relayed: false,
      peers: new Map(), // relayed: subscriberId → RelaySender
    };
    this.#pub = pub;
    this.session = session;
    try {
      await this.#media;
      this.#check(pub);
      if (link.relayed()) {
        await this.#publishRelayed(pub, link);
        return;
      }
      const pc = createPeerConnection(link.rtcConfiguration());
      pub.pc = pc;
      pub.trickler = new CandidateTrickler(pc, (id, candidate) => link.notify('candidate', { pc: id, candidate }));
      pc.addEventListener('connectionstatechange', () => this.#onConnectionState(pub));
      const mediaStream = this.#mediaStream;
      for (const track of [this.#audioTrack, this.#videoTrack]) {
        if (!track) continue;
        const init = { direction: 'sendonly', streams: [mediaStream] };
        if (track === this.#videoTrack && this.#simulcast()) init.sendEncodings = SIMULCAST_ENCODINGS;
        pc.addTransceiver(track, init);
      }
      const offer = await pc.createOffer();
      this.#check(pub);
      await pc.setLocalDescription(offer);
      await waitForGathering(pc);
      this.#check(pub);
      const sdp = pc.localDescription.sdp;
      pub.trickler.sdpSent();
      const spec = this.#streamSpec();
      let reply;
      try {
        reply = await link.request('publish', { offer: sdp, stream: spec });
      } catch (err) {
        throw errorFromRequest(err, PUBLISH_ERRORS, PUBLISH_FALLBACK);
      }
      const streamId = reply && typeof reply.streamId === 'string' ? reply.streamId : '';
      if (!streamId || typeof reply.answer !== 'string' || !reply.answer) {
        if (streamId) link.request('unpublish', { streamId }).catch(noop);
        throw otError(ErrorNames.UNEXPECTED_SERVER_RESPONSE, 'the publish reply has no streamId or answer', 1500);
      }
      if (this.#pub !== pub || this.#destroyed) {
        link.request('unpublish', { streamId }).catch(noop);
        throw canceled('publishing was canceled');
      }
      pub.streamId = streamId;
      pub.sent = { hasAudio: spec.hasAudio, hasVideo: spec.hasVideo, videoDimensions: spec.videoDimensions };
      pub.trickler.setId(streamId);
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.answer });
      this.#check(pub);
      this.#published(pub, spec);
    } catch (err) {
      if (this.#pub === pub) this.#dropPublication(pub);
      if (err instanceof OTError) throw err;
      throw otError(ErrorNames.UNABLE_TO_PUBLISH, `unable to publish: ${(err && err.message) || err}`, 1500);
    }
  }

  // #publishRelayed announces the stream of a relayed session: no offer
  // goes with it; peer connections open as subscribers come
  // (relaySubscribe).
  async #publishRelayed(pub, link) {
    const spec = this.#streamSpec();
    let reply;
    try {
      reply = await link.request('publish', { stream: spec });
    } catch (err) {
      throw errorFromRequest(err, PUBLISH_ERRORS, PUBLISH_FALLBACK);
    }
    const streamId = reply && typeof reply.streamId === 'string' ? reply.streamId : '';
    if (!streamId || reply.relayed !== true) {
      if (streamId) link.request('unpublish', { streamId }).catch(noop);
      throw otError(ErrorNames.UNEXPECTED_SERVER_RESPONSE, 'the publish reply has no streamId or is not relayed', 1500);
    }
    if (this.#pub !== pub || this.#destroyed) {
      link.request('unpublish', { streamId }).catch(noop);
      throw canceled('publishing was canceled');
    }
    pub.relayed = true;
    pub.streamId = streamId;
    pub.sent = { hasAudio: spec.hasAudio, hasVideo: spec.hasVideo, videoDimensions: spec.videoDimensions };
    this.#published(pub, spec);
    // Subscribers that asked before the reply was read.
    for (const request of link.takeEarlyRelaySubscribes(streamId)) this._relaySubscribe(request);
  }

  // #published: the stream exists. Changes made while it was being set up
  // are sent now.
  #published(pub, spec) {
    const stream = pub.link.streamById(pub.streamId) || pub.link.addOwnStream(pub.streamId, spec);
    this._onOwnStream(stream);
    const desired = this.#desiredProperties();
    for (const property of ['hasAudio', 'hasVideo']) this.#syncProperty(property, desired[property]).catch(noop);
    if (desired.videoDimensions) this.#syncProperty('videoDimensions', desired.videoDimensions).catch(noop);
  }

  // _relaySubscribe: a subscriber of this relayed stream wants media
  // ({subscriberId, connectionId, audio, video}); a peer connection to it
  // opens and offers.
  _relaySubscribe(request) {
    const pub = this.#pub;
    if (!pub || !pub.relayed || this.#destroyed) {
      log.debug('relaySubscribe for a stream that is not being published relayed');
      return;
    }
    if (pub.peers.has(request.subscriberId)) {
      log.debug('relaySubscribe repeated for', request.subscriberId);
      return;
    }
    let sender;
    try {
      sender = new RelaySender(pub.link, request, {
        audioTrack: this.#audioTrack,
        videoTrack: this.#videoTrack,
        mediaStream: this.#mediaStream,
      });
    } catch (err) {
      log.warn(`cannot open a peer connection to subscriber ${request.subscriberId}:`, (err && err.message) || err);
      return;
    }
    pub.peers.set(request.subscriberId, sender);
    sender.start();
  }

  // _hasRelayPeer tells whether this publisher sends to subscriberId.
  _hasRelayPeer(subscriberId) {
    return Boolean(this.#pub && this.#pub.peers.has(subscriberId));
  }

  // _onRelay: the subscriber's answer, candidate or restart request.
  _onRelay(relay) {
    const sender = this.#pub && this.#pub.peers.get(relay.subscriberId);
    if (sender) sender.handle(relay);
  }

  // _relayUnsubscribe: the subscriber left; its peer connection closes.
  _relayUnsubscribe(subscriberId) {
    const pub = this.#pub;
    const sender = pub && pub.peers.get(subscriberId);
    if (!sender) return;
    pub.peers.delete(subscriberId);
    sender.close();
  }

  #closePeers(pub) {
    closePeerConnection(pub.pc);
    for (const sender of pub.peers.values()) sender.close();
    pub.peers.clear();
  }

  #check(pub) {
    if (this.#pub !== pub || this.#destroyed) throw canceled('publishing was canceled (unpublished or destroyed)');
  }

  // #dropPublication forgets a publication that never got (or no longer
  // has) a stream, without events.
  #dropPublication(pub) {
    if (this.#pub === pub) this.#pub = null;
    this.#closePeers(pub);
    if (pub.streamId) pub.link.request('unpublish', { streamId: pub.streamId }).catch(noop);
    pub.link.publisherGone(this);
    if (this.session === pub.session) this.session = undefined;
  }

  // _onOwnStream: the session learned about this publisher's stream (the
  // server's echo, or the publish reply).
  _onOwnStream(stream) {
    const pub = this.#pub;
    if (!pub || pub.stream || pub.streamId !== stream.streamId) return;
    pub.stream = stream;
    this.stream = stream;
    this._emit(new Event('streamCreated', { stream }));
  }

  // _streamId is the id of the stream being published, or ''.
  get _streamId() {
    return this.#pub ? this.#pub.streamId : '';
  }

  // _endPublication stops publishing: reason is the streamDestroyed
  // reason; notifyServer sends unpublish; dispatch fires the publisher's
  // cancelable streamDestroyed whose default action destroys it.
  _endPublication(reason, { notifyServer = false, dispatch = true } = {}) {
    const pub = this.#pub;
    if (!pub) return;
    this.#pub = null;
    if (notifyServer && pub.streamId && pub.link.isConnected()) {
      const fields = { streamId: pub.streamId };
      // The others see streamDestroyed with this reason.
      if (reason === 'mediaStopped') fields.reason = 'mediaStopped';
      pub.link.request('unpublish', fields).catch((err) => log.debug('unpublish:', err.message));
    }
    this.#closePeers(pub);
    pub.link.publisherGone(this);
    const stream = pub.stream;
    if (stream && dispatch && !this.#destroyed) {
      this._emit(new Event('streamDestroyed', { stream, reason }, { cancelable: true }), () => this.destroy());
    }
    if (this.stream === stream) this.stream = undefined;
    if (this.session === pub.session) this.session = undefined;
  }

  // _forceMute: a moderator muted this client (muteForced).
  _forceMute() {
    if (!this.#audioTrack || !this.#publishAudio) return;
    this.publishAudio(false);
    this._emit(new Event('muteForced'));
  }

  // _isMediaConnected: the media link to the SFU, or in a relayed session
  // every peer connection, is connected.
  _isMediaConnected() {
    const pub = this.#pub;
    if (!pub) return false;
    if (pub.relayed) return [...pub.peers.values()].every((sender) => sender.connectionState === 'connected');
    return Boolean(pub.pc && pub.pc.connectionState === 'connected');
  }

  // _afterReconnect runs once the session resumed: stream properties
  // changed meanwhile are sent, and ICE restarts if the media link broke.
  _afterReconnect() {
    const pub = this.#pub;
    if (!pub || !pub.stream) return;
    const desired = this.#desiredProperties();
    pub.sent = {
      hasAudio: pub.stream.hasAudio,
      hasVideo: pub.stream.hasVideo,
      videoDimensions: { ...pub.stream.videoDimensions },
    };
    for (const property of ['hasAudio', 'hasVideo']) this.#syncProperty(property, desired[property]).catch(noop);
    if (desired.videoDimensions) this.#syncProperty('videoDimensions', desired.videoDimensions).catch(noop);
    if (pub.relayed) {
      // Subscribers whose link broke ask for a restart; peer connections
      // that failed meanwhile restart on their own.
      for (const sender of pub.peers.values()) sender.afterReconnect();
      return;
    }
    if (!this._isMediaConnected()) this._restartIce();
  }

  #onConnectionState(pub) {
    if (this.#pub !== pub || !pub.pc) return;
    const state = pub.pc.connectionState;
    log.debug('media link', state);
    if (state === 'failed' && pub.link.isConnected() && Date.now() - pub.lastRestart > ICE_RESTART_INTERVAL_MS) {
      this._restartIce();
    }
  }

  // _restartIce renegotiates ICE: a new offer with new credentials goes
  // in restartIce {streamId, sdp}; the reply carries the answer.
  async _restartIce() {
    const pub = this.#pub;
    if (!pub || pub.relayed || !pub.pc || !pub.streamId || pub.restarting || pub.pc.signalingState !== 'stable') return;
    pub.restarting = true;
    pub.lastRestart = Date.now();
    const pc = pub.pc;
    try {
      pub.trickler.negotiating();
      const offer = await pc.createOffer({ iceRestart: true });
      if (this.#pub !== pub) return;
      await pc.setLocalDescription(offer);
      await waitForGathering(pc);
      if (this.#pub !== pub) return;
      const sdp = pc.localDescription.sdp;
      pub.trickler.sdpSent();
      const reply = await pub.link.request('restartIce', { streamId: pub.streamId, sdp });
      if (this.#pub !== pub) return;
      if (!reply || typeof reply.answer !== 'string' || !reply.answer) throw new Error('the restartIce reply has no answer');
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.answer });
      log.debug('ICE restarted');
    } catch (err) {
      log.warn('ICE restart failed:', (err && err.message) || err);
      if (this.#pub === pub && pc.signalingState === 'have-local-offer') {
        pc.setLocalDescription({ type: 'rollback' }).catch(noop);
      }
    } finally {
      pub.restarting = false;
    }
  }

  // cycleVideo switches to the next camera: Promise<{deviceId}>.
  async cycleVideo() {
    await this.#media;
    if (!this.#videoTrack || this.#videoType !== 'camera' || !this.#owned.has(this.#videoTrack)) {
      throw otError(ErrorNames.NOT_SUPPORTED, 'cycleVideo needs a camera as the video source', 1500);
    }
    const cameras = (await getDevices()).filter((d) => d.kind === 'videoInput');
    const current = this.#currentDeviceId(this.#videoTrack);
    if (cameras.length < 2) return { deviceId: current };
    const index = cameras.findIndex((d) => d.deviceId === current);
    const next = cameras[(index + 1) % cameras.length];
    await this.#switchDevice('video', next.deviceId);
    return { deviceId: next.deviceId };
  }

  // setVideoSource(deviceId | MediaStreamTrack): Promise.
  async setVideoSource(source) {
    await this.#media;
    if (!this.#videoTrack) throw otError(ErrorNames.NOT_SUPPORTED, 'this publisher has no video to replace', 1500);
    if (this.#videoType === 'screen') throw otError(ErrorNames.NOT_SUPPORTED, 'cannot change the source of a screen share', 1500);
    if (isTrack(source)) {
      if (source.kind !== 'video') throw otError(ErrorNames.INVALID_PARAMETER, 'the track is not a video track', 1011);
      await this.#replaceTrack('video', source, false);
      this.#videoType = 'custom';
      return;
    }
    if (typeof source !== 'string' || !source) throw otError(ErrorNames.INVALID_PARAMETER, 'setVideoSource needs a device id or a video track', 1011);
    await this.#switchDevice('video', source);
    this.#videoType = 'camera';
  }

  // setAudioSource(deviceId | MediaStreamTrack): Promise.
  async setAudioSource(source) {
    await this.#media;
    if (!this.#audioTrack) throw otError(ErrorNames.NOT_SUPPORTED, 'this publisher has no audio to replace', 1500);
    if (isTrack(source)) {
      if (source.kind !== 'audio') throw otError(ErrorNames.INVALID_PARAMETER, 'the track is not an audio track', 1011);
      await this.#replaceTrack('audio', source, false);
      return;
    }
    if (typeof source !== 'string' || !source) throw otError(ErrorNames.INVALID_PARAMETER, 'setAudioSource needs a device id or an audio track', 1011);
    await this.#switchDevice('audio', source);
  }

  #currentDeviceId(track) {
    const settings = track && typeof track.getSettings === 'function' ? track.getSettings() : {};
    return settings.deviceId || null;
  }

  // #switchDevice captures deviceId and swaps it in. Devices that cannot
  // be opened twice (phone cameras) get the old track stopped first.
  async #switchDevice(kind, deviceId) {
    const old = kind === 'video' ? this.#videoTrack : this.#audioTrack;
    let track;
    try {
      track = await captureTrack(kind, this.#props, deviceId);
    } catch (err) {
      if (!(err instanceof OTError) || err.name !== ErrorNames.HARDWARE_UNAVAILABLE || !old || !this.#owned.has(old)) throw err;
      stopTrack(old);
      track = await captureTrack(kind, this.#props, deviceId);
    }
    if (this.#destroyed) {
      stopTrack(track);
      throw canceled('the publisher was destroyed');
    }
    try {
      await this.#replaceTrack(kind, track, true);
    } catch (err) {
      stopTrack(track);
      throw err;
    }
  }

  async #replaceTrack(kind, track, owned) {
    const old = kind === 'video' ? this.#videoTrack : this.#audioTrack;
    track.enabled = kind === 'video' ? this.#publishVideo : this.#publishAudio;
    const pub = this.#pub;
    if (pub && pub.pc && pub.pc.signalingState !== 'closed') {
      const transceiver = pub.pc
        .getTransceivers()
        .find((t) => t.sender.track === old || (t.receiver && t.receiver.track && t.receiver.track.kind === kind));
      if (!transceiver) throw otError(ErrorNames.NOT_SUPPORTED, `the published stream has no ${kind}`, 1500);
      await transceiver.sender.replaceTrack(track);
    }
    if (pub && pub.relayed) {
      await Promise.all([...pub.peers.values()].map((sender) => sender.replaceTrack(kind, old, track)));
    }
    if (kind === 'video') this.#videoTrack = track;
    else this.#audioTrack = track;
    if (owned) this.#owned.add(track);
    this.#watchTrack(track);
    if (old && old !== track) {
      this.#unwatchTrack(old);
      if (this.#owned.has(old)) {
        this.#owned.delete(old);
        stopTrack(old);
      }
    }
    this.#refreshPreview();
    if (kind === 'audio') {
      this.#updateMeter();
      this._emit(new Event('audioInputDeviceChanged', { device: { deviceId: this.#currentDeviceId(track), label: track.label } }));
    }
  }

  getAudioSource() {
    return this.#audioTrack || null;
  }

  getVideoSource() {
    return {
      deviceId: this.#videoType === 'camera' ? this.#currentDeviceId(this.#videoTrack) : null,
      type: this.#videoTrack ? this.#videoType : null,
      track: this.#videoTrack || null,
    };
  }

  // #statsOf resolves with one entry per peer connection: [{...,
  // report}] with the SFU's view in a routed session, and one per
  // subscriber ({connectionId, subscriberId}) in a relayed one.
  #statsOf() {
    const pub = this.#pub;
    if (pub && pub.relayed) {
      return Promise.all(
        [...pub.peers.values()].map((sender) =>
          sender.pc.getStats().then((report) => ({ connectionId: sender.connectionId, subscriberId: sender.subscriberId, report })),
        ),
      );
    }
    if (!pub || !pub.pc) return Promise.reject(otError(ErrorNames.NOT_CONNECTED, 'the publisher is not publishing', 1010));
    return pub.pc.getStats().then((report) => [{ report }]);
  }

  // getStats(callback?): Promise<[{stats}]>: one entry, the SFU's view;
  // in a relayed session one {connectionId, subscriberId, stats} per
  // subscriber.
  getStats(completionHandler) {
    const promise = this.#statsOf().then((entries) =>
      entries.map(({ report, ...ids }) => ({ ...ids, stats: publisherStats(report) })),
    );
    return callbackify(promise, completionHandler);
  }

  // getRtcStatsReport(): Promise<[{rtcStatsReport}]>, per subscriber in a
  // relayed session (with connectionId and subscriberId).
  getRtcStatsReport() {
    return this.#statsOf().then((entries) =>
      entries.map(({ report, ...ids }) => ({ ...ids, rtcStatsReport: selectedPairsOnly(report) })),
    );
  }

  // getImgData returns the current frame as base64 PNG (no data: prefix).
  getImgData() {
    return this.#widget.snapshot();
  }

  videoWidth() {
    const video = this.#widget.video;
    return (video && video.videoWidth) || (this.#trackDimensions() || { width: 0 }).width;
  }

  videoHeight() {
    const video = this.#widget.video;
    return (video && video.videoHeight) || (this.#trackDimensions() || { height: 0 }).height;
  }

  // Accepted for compatibility; the SFU does not act on them yet.
  setPreferredResolution() {
    return this;
  }

  setPreferredFrameRate() {
    return this;
  }

  // destroy stops publishing and capturing and removes the widget.
  destroy() {
    if (this.#destroyed) return this;
    this._endPublication('destroyed', { notifyServer: true, dispatch: false });
    this.#destroyed = true;
    if (this.#meter) this.#meter.stop();
    for (const track of this.#trackListeners.keys()) this.#unwatchTrack(track);
    this.#owned.forEach(stopTrack);
    this.#owned.clear();
    this.#widget.remove();
    this.element = undefined;
    this._emit(new Event('destroyed'));
    return this;
  }
}

// initPublisher is OT.initPublisher(target?, properties?, callback?).
export function initPublisher(targetElement, properties, completionHandler) {
  const [target, props, cb] = widgetArgs(targetElement, properties, completionHandler);
  const publisher = new Publisher(target, props);
  publisher._ready().then(
    () => safeCall(cb, undefined),
    (err) => {
      safeCall(cb, err);
      if (err.name !== ErrorNames.CANCELED) reportException(err, publisher);
    },
  );
  return publisher;
}

// OT.initPublisher.promise(target?, properties?): Promise<Publisher>.
initPublisher.promise = (targetElement, properties) =>
  new Promise((resolve, reject) => {
    const publisher = initPublisher(targetElement, properties, (err) => (err ? reject(err) : resolve(publisher)));
  });
