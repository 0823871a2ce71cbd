// Pre-call network test for OpenTok.js-compatible SDKs, with the API of
// the published OpenTok pre-call test (opentok-network-test-js):
//
//   import NetworkTest, { ErrorNames } from '/v2/js/network-test.js';
//   const test = new NetworkTest(OT, { apiKey, sessionId, token }, { timeout: 30000 });
//   const connectivity = await test.testConnectivity(); // {success, failedTests}
//   const quality = await test.testQuality((stats) => …);  // {audio, video}
//
// The session is a routed test session of its own; the token a publisher's.
// Loaded as a classic script's sibling it also sets
// window.OpenTokNetworkConnectivity = {default: NetworkTest, ErrorNames}.

export const ErrorNames = Object.freeze({
  MISSING_OPENTOK_INSTANCE: 'MissingOpenTokInstanceError',
  INVALID_SESSION_CREDENTIALS: 'InvalidSessionCredentialsError',
  INVALID_ON_UPDATE_CALLBACK: 'InvalidOnUpdateCallback',
  INVALID_TIMEOUT: 'InvalidTimeoutError',
  API_CONNECTIVITY_ERROR: 'ApiConnectivityError',
  CONNECT_TO_SESSION_ERROR: 'ConnectToSessionError',
  CONNECT_TO_SESSION_TOKEN_ERROR: 'ConnectToSessionTokenError',
  CONNECT_TO_SESSION_ID_ERROR: 'ConnectToSessionSessionIdError',
  CONNECT_TO_SESSION_NETWORK_ERROR: 'ConnectToSessionNetworkError',
  FAILED_MESSAGING_SERVER_TEST: 'FailedMessagingServerTestError',
  FAILED_TO_OBTAIN_MEDIA_DEVICES: 'FailedToObtainMediaDevices',
  NO_AUDIO_CAPTURE_DEVICES: 'NoAudioCaptureDevicesError',
  NO_VIDEO_CAPTURE_DEVICES: 'NoVideoCaptureDevicesError',
  FAILED_TO_CREATE_LOCAL_PUBLISHER: 'FailedToCreateLocalPublisher',
  PUBLISH_TO_SESSION_ERROR: 'PublishToSessionError',
  PUBLISH_TO_SESSION_NOT_CONNECTED: 'PublishToSessionNotConnectedError',
  PUBLISH_TO_SESSION_PERMISSION_OR_TIMEOUT_ERROR: 'PublishToSessionPermissionOrTimeoutError',
  PUBLISH_TO_SESSION_NETWORK_ERROR: 'PublishToSessionNetworkError',
  SUBSCRIBE_TO_SESSION_ERROR: 'SubscribeToSessionError',
  LOGGING_SERVER_CONNECTION_ERROR: 'LoggingServerConnectionError',
  QUALITY_TEST_ERROR: 'QualityTestError',
  UNSUPPORTED_BROWSER: 'UnsupportedBrowserError',
  PERMISSION_DENIED_ERROR: 'PermissionDeniedError',
  STOPPED: 'NetworkTestStoppedError',
});

class NetworkTestError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// Recommended publisher settings by the outgoing bitrate they need
// (bits per second), best first.
const RESOLUTIONS = [
  { bitrate: 4000000, resolution: '1920x1080', frameRate: 30 },
  { bitrate: 2500000, resolution: '1280x720', frameRate: 30 },
  { bitrate: 1200000, resolution: '960x540', frameRate: 30 },
  { bitrate: 500000, resolution: '640x360', frameRate: 30 },
  { bitrate: 300000, resolution: '480x270', frameRate: 30 },
  { bitrate: 150000, resolution: '320x180', frameRate: 30 },
];
// Only this share of the measured outgoing bitrate is counted on.
const SAFETY_RATIO = 0.75;
const AUDIO_MOS_OK = 2.4;
const MIN_VIDEO_BITRATE = 30000;
const STEADY_WINDOW = 5; // samples (seconds) within STEADY_CHANGE ends the test early
const STEADY_CHANGE = 0.05;

// audioMOS is a simplified ITU-T G.107 E-model: a fixed delay and the
// measured packet loss.
export function audioMOS(packetLossRatio) {
  const d = 150 + 30;
  const delayImpairment = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const equipmentImpairment = 19.8 * Math.log(1 + 29.7 * Math.max(0, packetLossRatio));
  const r = 93.2 - delayImpairment - equipmentImpairment;
  const mos = r < 0 ? 1 : 1 + 0.035 * r + 7.1e-6 * r * (r - 60) * (100 - r);
  return Math.min(4.5, Math.max(1, mos));
}

// videoMOS compares the received bitrate with what the picture size
// needs, on a log scale from MIN_VIDEO_BITRATE.
export function videoMOS(bitrate, width, height) {
  if (!(bitrate >= MIN_VIDEO_BITRATE) || !(width * height > 0)) return 1;
  const target = Math.pow(10, 2.069924867 * Math.pow(Math.log10(width * height), 0.6250223771));
  const score = (Math.log(bitrate / MIN_VIDEO_BITRATE) / Math.log(target / MIN_VIDEO_BITRATE)) * 4 + 1;
  return Math.min(4.5, Math.max(1, score));
}

// verdict names a MOS band.
export function verdict(mos) {
  if (mos >= 3.8) return 'Excellent';
  if (mos >= 3.1) return 'Good';
  if (mos >= 2.4) return 'Fair';
  if (mos >= 1.7) return 'Poor';
  return 'Bad';
}

export function recommend(availableBitrate) {
  const usable = availableBitrate * SAFETY_RATIO;
  return RESOLUTIONS.find((r) => usable >= r.bitrate) || null;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default class NetworkTest {
  #OT;
  #creds;
  #options;
  #stopped = false;
  #running = new Set(); // sessions and publishers to clean up on stop

  constructor(OT, credentials, options = {}) {
    if (!OT || typeof OT.initSession !== 'function' || typeof OT.initPublisher !== 'function') {
      throw new NetworkTestError(ErrorNames.MISSING_OPENTOK_INSTANCE, 'An instance of OT, the OpenTok.js client SDK, is required.');
    }
    const { apiKey, sessionId, token } = credentials || {};
    if (![apiKey, sessionId, token].every((v) => (typeof v === 'string' && v) || typeof v === 'number')) {
      throw new NetworkTestError(ErrorNames.INVALID_SESSION_CREDENTIALS, 'apiKey, sessionId and token are required.');
    }
    const timeout = options.timeout === undefined ? 30000 : options.timeout;
    if (typeof timeout !== 'number' || timeout < 5000 || timeout > 30000) {
      throw new NetworkTestError(ErrorNames.INVALID_TIMEOUT, 'timeout is between 5000 and 30000 ms.');
    }
    this.#OT = OT;
    this.#creds = { apiKey: String(apiKey), sessionId, token };
    this.#options = { ...options, timeout };
  }

  // stop ends a running test; its promise rejects with STOPPED.
  stop() {
    this.#stopped = true;
    this.#cleanup();
  }

  #cleanup() {
    for (const x of this.#running) {
      try {
        if (typeof x.disconnect === 'function') x.disconnect();
        else x.destroy();
      } catch {
        /* already gone */
      }
    }
    this.#running.clear();
  }

  #checkStopped() {
    if (this.#stopped) throw new NetworkTestError(ErrorNames.STOPPED, 'The test was stopped.');
  }

  #serverURL() {
    const p = this.#OT.properties;
    return ((p && p.apiURL) || location.origin).replace(/\/$/, '');
  }

  #loggingURL() {
    const p = this.#OT.properties;
    return ((p && p.loggingURL) || this.#serverURL()).replace(/\/$/, '');
  }

  #connect() {
    const session = this.#OT.initSession(this.#creds.apiKey, this.#creds.sessionId, this.#options.initSessionOptions);
    this.#running.add(session);
    return new Promise((resolve, reject) => session.connect(this.#creds.token, (err) => (err ? reject(err) : resolve(session))));
  }

  #publisher(props) {
    const o = this.#options;
    const p = { insertDefaultUI: false, publishAudio: true, publishVideo: !o.audioOnly, ...props };
    if (o.audioSource) p.audioSource = o.audioSource;
    if (o.videoSource && !o.audioOnly) p.videoSource = o.videoSource;
    if (o.audioOnly) p.videoSource = null;
    return new Promise((resolve, reject) => {
      const pub = this.#OT.initPublisher(null, p, (err) => (err ? reject(err) : resolve(pub)));
      this.#running.add(pub);
    });
  }

  #publish(session, pub) {
    return new Promise((resolve, reject) => session.publish(pub, (err) => (err ? reject(err) : resolve(pub.stream))));
  }

  #subscribe(session, stream) {
    return new Promise((resolve, reject) => {
      const sub = session.subscribe(stream, null, { insertDefaultUI: false, testNetwork: true, audioVolume: 0 }, (err) =>
        err ? reject(err) : resolve(sub),
      );
    });
  }

  // testConnectivity checks, in order: the API server, the messaging
  // connection, publishing and subscribing through the media router, and
  // the logging server.
  async testConnectivity() {
    this.#stopped = false;
    const failedTests = [];
    const fail = (type, name, err) => failedTests.push({ type, error: { name, message: (err && err.message) || String(err || name) } });
    try {
      try {
        // From another origin the answer is opaque: reaching the server
        // is what counts.
        const r = await fetch(this.#serverURL() + '/healthz', { cache: 'no-store', mode: 'no-cors' });
        if (r.type !== 'opaque' && !r.ok) throw new Error('the API server answered ' + r.status);
      } catch (err) {
        fail('api', ErrorNames.API_CONNECTIVITY_ERROR, err);
      }
      this.#checkStopped();
      let session = null;
      try {
        session = await this.#connect();
      } catch (err) {
        const code = err && err.code;
        if (code === 1004) fail('messaging', ErrorNames.CONNECT_TO_SESSION_TOKEN_ERROR, err);
        else if (code === 1005) fail('messaging', ErrorNames.CONNECT_TO_SESSION_ID_ERROR, err);
        else if (code === 1006) fail('api', ErrorNames.CONNECT_TO_SESSION_NETWORK_ERROR, err);
        else fail('messaging', ErrorNames.CONNECT_TO_SESSION_ERROR, err);
        fail('media', ErrorNames.FAILED_MESSAGING_SERVER_TEST, 'The media test needs the messaging connection.');
      }
      this.#checkStopped();
      if (session) {
        let pub = null;
        try {
          pub = await this.#publisher({ resolution: '320x240' });
        } catch (err) {
          if (err && /denied|permission/i.test(err.name + err.message)) {
            throw new NetworkTestError(ErrorNames.PERMISSION_DENIED_ERROR, 'Access to the camera or microphone was denied.');
          }
          fail('OpenTok.js', ErrorNames.FAILED_TO_CREATE_LOCAL_PUBLISHER, err);
        }
        this.#checkStopped();
        if (pub) {
          let stream = null;
          try {
            stream = await this.#publish(session, pub);
          } catch (err) {
            fail('media', ErrorNames.PUBLISH_TO_SESSION_ERROR, err);
          }
          this.#checkStopped();
          if (stream) {
            try {
              await this.#subscribe(session, stream);
            } catch (err) {
              fail('media', ErrorNames.SUBSCRIBE_TO_SESSION_ERROR, err);
            }
          }
        }
      }
      this.#checkStopped();
      try {
        const r = await fetch(this.#loggingURL() + '/logging/ClientEvent', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ action: 'NetworkTestConnectivity', partnerId: this.#creds.apiKey, sessionId: this.#creds.sessionId }),
        });
        if (r.status !== 200) throw new Error('the logging server answered ' + r.status);
      } catch (err) {
        fail('logging', ErrorNames.LOGGING_SERVER_CONNECTION_ERROR, err);
      }
    } finally {
      this.#cleanup();
    }
    return { success: failedTests.length === 0, failedTests };
  }

  // testQuality publishes a test stream, subscribes to it through the
  // media router and measures, once a second, until the bitrate holds
  // steady or the timeout passes. A poor audio result is retried audio
  // only, as the published test does.
  async testQuality(updateCallback) {
    if (updateCallback !== undefined && typeof updateCallback !== 'function') {
      throw new NetworkTestError(ErrorNames.INVALID_ON_UPDATE_CALLBACK, 'updateCallback must be a function.');
    }
    this.#stopped = false;
    try {
      const audioOnly = !!this.#options.audioOnly;
      let result = await this.#measure(audioOnly ? 'audio-only' : 'audio-video', updateCallback);
      if (!audioOnly && !result.audio.supported) {
        const again = await this.#measure('audio-only', updateCallback);
        result = { ...result, audio: again.audio };
      }
      return result;
    } finally {
      this.#cleanup();
    }
  }

  async #measure(phase, updateCallback) {
    const audioOnly = phase === 'audio-only';
    let session;
    let pub;
    let sub;
    try {
      session = await this.#connect();
      this.#checkStopped();
      pub = await this.#publisher({
        resolution: this.#options.fullHd ? '1920x1080' : '1280x720',
        publishVideo: !audioOnly,
        videoSource: audioOnly ? null : this.#options.videoSource,
      });
      this.#checkStopped();
      const stream = await this.#publish(session, pub);
      sub = await this.#subscribe(session, stream);
    } catch (err) {
      if (err instanceof NetworkTestError) throw err;
      throw new NetworkTestError(ErrorNames.QUALITY_TEST_ERROR, 'The quality test could not publish and subscribe: ' + (err && err.message));
    }
    const samples = [];
    const maxSamples = Math.round((audioOnly ? Math.min(this.#options.timeout, 10000) : this.#options.timeout) / 1000);
    let prev = null;
    let available = 0;
    let limitation = null;
    while (samples.length < maxSamples) {
      await sleep(1000);
      this.#checkStopped();
      let stats;
      try {
        stats = await sub.getStats();
      } catch {
        continue;
      }
      try {
        const [entry] = await pub.getRtcStatsReport();
        entry.rtcStatsReport.forEach((s) => {
          if (s.type === 'candidate-pair' && s.availableOutgoingBitrate > 0) available = s.availableOutgoingBitrate;
          if (s.type === 'outbound-rtp' && s.kind === 'video' && s.qualityLimitationReason) {
            limitation = s.qualityLimitationReason === 'none' ? null : s.qualityLimitationReason;
          }
        });
      } catch {
        /* the publisher's view is optional */
      }
      const now = { timestamp: stats.timestamp || Date.now(), audio: stats.audio || {}, video: stats.video || {} };
      if (typeof updateCallback === 'function') {
        updateCallback({
          audio: { timestamp: now.timestamp, bytesReceived: now.audio.bytesReceived || 0, packetsReceived: now.audio.packetsReceived || 0, packetsLost: now.audio.packetsLost || 0 },
          video: { timestamp: now.timestamp, bytesReceived: now.video.bytesReceived || 0, packetsReceived: now.video.packetsReceived || 0, packetsLost: now.video.packetsLost || 0, frameRate: now.video.frameRate || 0 },
          timestamp: now.timestamp,
          phase,
        });
      }
      if (prev) {
        const secs = Math.max(0.001, (now.timestamp - prev.timestamp) / 1000);
        const rate = (kind) => Math.max(0, ((now[kind].bytesReceived || 0) - (prev[kind].bytesReceived || 0)) * 8) / secs;
        const loss = (kind) => {
          const lost = (now[kind].packetsLost || 0) - (prev[kind].packetsLost || 0);
          const got = (now[kind].packetsReceived || 0) - (prev[kind].packetsReceived || 0);
          return lost + got > 0 ? Math.max(0, lost) / (Math.max(0, lost) + got) : 0;
        };
        samples.push({
          audioBitrate: rate('audio'),
          videoBitrate: rate('video'),
          audioLoss: loss('audio'),
          videoLoss: loss('video'),
          frameRate: now.video.frameRate || 0,
          width: now.video.width || (sub.videoWidth && sub.videoWidth()) || 0,
          height: now.video.height || (sub.videoHeight && sub.videoHeight()) || 0,
        });
        if (samples.length >= STEADY_WINDOW + 1 && steady(samples.slice(-STEADY_WINDOW).map((s) => s.audioBitrate + s.videoBitrate))) break;
      }
      prev = now;
    }
    session.disconnect();
    pub.destroy();
    this.#running.delete(session);
    this.#running.delete(pub);

    // The last steady window stands for the connection.
    const win = samples.slice(-STEADY_WINDOW);
    const avg = (f) => (win.length ? win.reduce((a, s) => a + f(s), 0) / win.length : 0);
    const audioLoss = avg((s) => s.audioLoss);
    const aMOS = win.length ? audioMOS(audioLoss) : 1;
    const audio = { bitrate: Math.round(avg((s) => s.audioBitrate)), packetLossRatio: audioLoss, mos: aMOS, supported: aMOS >= AUDIO_MOS_OK };
    if (!audio.supported) audio.reason = 'Bandwidth too low.';
    if (audioOnly) return { audio, video: { supported: false, reason: 'Audio-only test.', bitrate: 0, frameRate: 0, packetLossRatio: 0, mos: 1, recommendedResolution: null, recommendedFrameRate: null, qualityLimitationReason: null } };

    const videoBitrate = avg((s) => s.videoBitrate);
    const last = win[win.length - 1] || {};
    const rec = recommend(available || videoBitrate);
    const video = {
      bitrate: Math.round(videoBitrate),
      frameRate: Math.round(avg((s) => s.frameRate)),
      packetLossRatio: avg((s) => s.videoLoss),
      mos: videoMOS(videoBitrate, last.width, last.height),
      supported: !!rec,
      recommendedResolution: rec ? rec.resolution : null,
      recommendedFrameRate: rec ? rec.frameRate : null,
      qualityLimitationReason: limitation,
    };
    if (!rec) video.reason = 'Bandwidth too low.';
    return { audio, video };
  }
}

function steady(values) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return hi > 0 && (hi - lo) / hi <= STEADY_CHANGE;
}

if (typeof window !== 'undefined' && !window.OpenTokNetworkConnectivity) {
  window.OpenTokNetworkConnectivity = { default: NetworkTest, ErrorNames };
}
