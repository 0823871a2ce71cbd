// Local media: capture for publishers (camera, microphone, screen, or the
// app's own tracks), OT.getUserMedia, device and codec lists, and the
// WebAudio meter behind 'audioLevelUpdated'.

import { ErrorNames, OTError, otError } from './errors.js';
import { createLogger } from './log.js';

const log = createLogger('Media');

const SCREEN_SOURCES = new Set(['screen', 'window', 'application', 'browser']);
const DEFAULT_RESOLUTION = { width: 640, height: 480 };

function mediaDevices() {
  return typeof navigator !== 'undefined' && navigator.mediaDevices ? navigator.mediaDevices : null;
}

export function hasGetUserMedia() {
  const md = mediaDevices();
  return Boolean(md && typeof md.getUserMedia === 'function');
}

export function hasScreenCapture() {
  const md = mediaDevices();
  return Boolean(md && typeof md.getDisplayMedia === 'function');
}

export function isScreenSource(source) {
  return typeof source === 'string' && SCREEN_SOURCES.has(source);
}

export function isTrack(value) {
  return typeof MediaStreamTrack !== 'undefined' && value instanceof MediaStreamTrack;
}

// parseResolution reads 'WxH' (or {width, height}).
export function parseResolution(value) {
  if (value && typeof value === 'object') {
    const width = Number(value.width);
    const height = Number(value.height);
    return width > 0 && height > 0 ? { width, height } : null;
  }
  const m = typeof value === 'string' ? /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(value) : null;
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}

export function videoConstraints(props, deviceId) {
  const c = {};
  if (deviceId) c.deviceId = { exact: deviceId };
  const res = parseResolution(props.resolution) || DEFAULT_RESOLUTION;
  c.width = { ideal: res.width };
  c.height = { ideal: res.height };
  const frameRate = Number(props.frameRate);
  if (frameRate > 0) c.frameRate = { ideal: frameRate };
  if (!deviceId && typeof props.facingMode === 'string') c.facingMode = props.facingMode;
  return c;
}

export function audioConstraints(props, deviceId) {
  const c = {};
  if (deviceId) c.deviceId = { exact: deviceId };
  if (props.disableAudioProcessing === true) {
    c.echoCancellation = false;
    c.noiseSuppression = false;
    c.autoGainControl = false;
  }
  for (const key of ['echoCancellation', 'noiseSuppression', 'autoGainControl']) {
    if (typeof props[key] === 'boolean') c[key] = props[key];
  }
  if (props.enableStereo === true) c.channelCount = { ideal: 2 };
  return Object.keys(c).length ? c : true;
}

// mediaError maps a getUserMedia/getDisplayMedia failure to an OTError
// (code 1500, as OpenTok reports publisher media failures).
export function mediaError(err, what = 'camera or microphone') {
  if (err instanceof OTError) return err;
  const name = err && err.name;
  const detail = (err && err.message) || String(err);
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return otError(ErrorNames.USER_MEDIA_ACCESS_DENIED, `access to the ${what} was denied: ${detail}`, 1500);
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      return otError(ErrorNames.NO_DEVICES_FOUND, `no ${what} was found: ${detail}`, 1500);
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return otError(ErrorNames.HARDWARE_UNAVAILABLE, `the ${what} cannot be used: ${detail}`, 1500);
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return otError(
        ErrorNames.CONSTRAINTS_NOT_SATISFIED,
        `the ${what} cannot satisfy the constraints (${(err && err.constraint) || detail})`,
        1500,
      );
    default:
      return otError(ErrorNames.UNABLE_TO_CAPTURE_MEDIA, `cannot capture the ${what}: ${detail}`, 1500);
  }
}

// isAccessDenied tells whether err means the user (or browser policy)
// refused access, for Publisher's 'accessDenied' event.
export function isAccessDenied(err) {
  return err instanceof OTError && err.name === ErrorNames.USER_MEDIA_ACCESS_DENIED;
}

function stopTracks(tracks) {
  for (const t of tracks) {
    try {
      t.stop();
    } catch {
      // already stopped
    }
  }
}

// acquireMedia captures what publisher properties ask for. It resolves
// with {audioTrack, videoTrack, videoType, owned} where owned holds the
// tracks the SDK created (and must stop); it rejects with an OTError.
// onPrompt() is called when a permission prompt is likely showing.
export async function acquireMedia(props, { onPrompt } = {}) {
  const audioSource = props.audioSource;
  const videoSource = props.videoSource;
  const wantsScreen = isScreenSource(videoSource);
  const result = { audioTrack: null, videoTrack: null, videoType: 'camera', owned: [] };

  if (isTrack(videoSource)) {
    result.videoTrack = videoSource;
    result.videoType = 'custom';
  }
  if (isTrack(audioSource)) result.audioTrack = audioSource;

  const noAudio = audioSource === null || audioSource === false;
  const noVideo = videoSource === null || videoSource === false;
  if (noAudio && noVideo) {
    throw otError(ErrorNames.INVALID_PARAMETER, 'audioSource and videoSource cannot both be null or false', 1500);
  }

  const raw = props.constraints && typeof props.constraints === 'object' ? props.constraints : null;
  const gum = {};
  if (!result.videoTrack && !noVideo && !wantsScreen) {
    gum.video = raw && raw.video !== undefined ? raw.video : videoConstraints(props, typeof videoSource === 'string' ? videoSource : '');
  }
  const audioFromScreen = wantsScreen && audioSource === 'screen';
  if (!result.audioTrack && !noAudio && !audioFromScreen) {
    gum.audio = raw && raw.audio !== undefined ? raw.audio : audioConstraints(props, typeof audioSource === 'string' && !isScreenSource(audioSource) ? audioSource : '');
  }

  const prompt = setTimeout(() => onPrompt && onPrompt(), 500);
  try {
    if (wantsScreen) {
      if (!hasScreenCapture()) {
        throw otError(ErrorNames.SCREEN_SHARING_NOT_SUPPORTED, 'this browser cannot capture the screen', 1500);
      }
      const video = {};
      const max = parseResolution(props.maxResolution);
      if (max) {
        video.width = { max: max.width };
        video.height = { max: max.height };
      }
      const frameRate = Number(props.frameRate);
      if (frameRate > 0) video.frameRate = { ideal: frameRate };
      let display;
      try {
        display = await mediaDevices().getDisplayMedia({ video: Object.keys(video).length ? video : true, audio: audioFromScreen });
      } catch (err) {
        throw mediaError(err, 'screen');
      }
      result.owned.push(...display.getTracks());
      result.videoTrack = display.getVideoTracks()[0] || null;
      result.videoType = 'screen';
      if (audioFromScreen) result.audioTrack = display.getAudioTracks()[0] || null;
      if (!result.videoTrack) throw otError(ErrorNames.UNABLE_TO_CAPTURE_MEDIA, 'the screen capture has no video', 1500);
    }
    if (gum.audio || gum.video) {
      if (!hasGetUserMedia()) {
        throw otError(ErrorNames.UNSUPPORTED_BROWSER, 'this browser has no getUserMedia', 1500);
      }
      let stream;
      try {
        stream = await mediaDevices().getUserMedia(gum);
      } catch (err) {
        const what = gum.audio && gum.video ? 'camera or microphone' : gum.video ? 'camera' : 'microphone';
        throw mediaError(err, what);
      }
      result.owned.push(...stream.getTracks());
      if (gum.video) result.videoTrack = stream.getVideoTracks()[0] || null;
      if (gum.audio) result.audioTrack = stream.getAudioTracks()[0] || null;
    }
  } catch (err) {
    stopTracks(result.owned);
    throw err instanceof OTError ? err : mediaError(err);
  } finally {
    clearTimeout(prompt);
  }
  return result;
}

// captureTrack gets one new camera or microphone track (device switch).
export async function captureTrack(kind, props, deviceId) {
  if (!hasGetUserMedia()) throw otError(ErrorNames.UNSUPPORTED_BROWSER, 'this browser has no getUserMedia', 1500);
  const constraints = kind === 'video' ? { video: videoConstraints(props, deviceId) } : { audio: audioConstraints(props, deviceId) };
  let stream;
  try {
    stream = await mediaDevices().getUserMedia(constraints);
  } catch (err) {
    throw mediaError(err, kind === 'video' ? 'camera' : 'microphone');
  }
  const track = kind === 'video' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
  stopTracks(stream.getTracks().filter((t) => t !== track));
  if (!track) throw otError(ErrorNames.UNABLE_TO_CAPTURE_MEDIA, `no ${kind} track was captured`, 1500);
  return track;
}

// getUserMedia is OT.getUserMedia(props): a MediaStream captured with the
// same properties initPublisher takes.
export async function getUserMedia(props = {}) {
  const media = await acquireMedia(props && typeof props === 'object' ? props : {});
  return new MediaStream([media.audioTrack, media.videoTrack].filter(Boolean));
}

async function enumerate() {
  const md = mediaDevices();
  if (!md || typeof md.enumerateDevices !== 'function') {
    throw otError(ErrorNames.NOT_SUPPORTED, 'this browser cannot list media devices', 2000);
  }
  return md.enumerateDevices();
}

// getDevices is OT.getDevices: [{kind: 'audioInput'|'videoInput', deviceId, label}].
export async function getDevices() {
  const list = await enumerate();
  return list
    .filter((d) => d.kind === 'audioinput' || d.kind === 'videoinput')
    .map((d) => ({ kind: d.kind === 'audioinput' ? 'audioInput' : 'videoInput', deviceId: d.deviceId, label: d.label }));
}

// getAudioOutputDevices is OT.getAudioOutputDevices: [{deviceId, label}].
export async function getAudioOutputDevices() {
  const list = await enumerate();
  return list.filter((d) => d.kind === 'audiooutput').map((d) => ({ deviceId: d.deviceId, label: d.label }));
}

function codecNames(capabilities) {
  const names = [];
  for (const codec of (capabilities && capabilities.codecs) || []) {
    const m = /^video\/(VP8|VP9|H264)$/i.exec(codec.mimeType || '');
    if (m && !names.includes(m[1].toUpperCase())) names.push(m[1].toUpperCase());
  }
  return names;
}

// getSupportedCodecs is OT.getSupportedCodecs(): a Promise of
// {videoEncoders, videoDecoders}, each a list of 'VP8' | 'VP9' | 'H264'.
export async function getSupportedCodecs() {
  const caps = (cls) => {
    try {
      return typeof cls !== 'undefined' && typeof cls.getCapabilities === 'function' ? cls.getCapabilities('video') : null;
    } catch {
      return null;
    }
  };
  return {
    videoEncoders: codecNames(caps(typeof RTCRtpSender !== 'undefined' ? RTCRtpSender : undefined)),
    videoDecoders: codecNames(caps(typeof RTCRtpReceiver !== 'undefined' ? RTCRtpReceiver : undefined)),
  };
}

let sharedAudioContext = null;

function audioContext() {
  if (typeof window === 'undefined') return null;
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return null;
  if (!sharedAudioContext) {
    try {
      sharedAudioContext = new AC();
    } catch (err) {
      log.debug('no AudioContext:', err);
      return null;
    }
  }
  if (sharedAudioContext.state === 'suspended') sharedAudioContext.resume().catch(() => {});
  return sharedAudioContext;
}

// AudioLevelMeter samples one audio track every intervalMs and reports
// its level, 0..1 (the peak amplitude of the last window).
export class AudioLevelMeter {
  #onLevel;
  #intervalMs;
  #source = null;
  #analyser = null;
  #timer = null;
  #track = null;

  constructor(onLevel, intervalMs = 60) {
    this.#onLevel = onLevel;
    this.#intervalMs = intervalMs;
  }

  get track() {
    return this.#track;
  }

  start(track) {
    this.stop();
    if (!track || track.readyState === 'ended') return;
    const ctx = audioContext();
    if (!ctx) return;
    try {
      this.#source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.#analyser = ctx.createAnalyser();
      this.#analyser.fftSize = 1024;
      this.#source.connect(this.#analyser);
    } catch (err) {
      log.debug('cannot meter the audio track:', err);
      this.stop();
      return;
    }
    this.#track = track;
    const data = new Float32Array(this.#analyser.fftSize);
    this.#timer = setInterval(() => {
      if (!this.#analyser) return;
      this.#analyser.getFloatTimeDomainData(data);
      let peak = 0;
      for (let i = 0; i < data.length; i += 1) {
        const v = Math.abs(data[i]);
        if (v > peak) peak = v;
      }
      try {
        this.#onLevel(Math.min(1, peak));
      } catch (err) {
        log.error('audio level handler failed:', err);
      }
    }, this.#intervalMs);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
    try {
      if (this.#source) this.#source.disconnect();
      if (this.#analyser) this.#analyser.disconnect();
    } catch {
      // already disconnected
    }
    this.#source = null;
    this.#analyser = null;
    this.#track = null;
  }
}
