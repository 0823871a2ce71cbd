// RTCPeerConnection helpers shared by Publisher and Subscriber: the
// RTCConfiguration from the server's ICE servers and the app's iceConfig,
// ICE gathering with a deadline, trickling late candidates as `candidate`
// messages, waiting for the media link, and stats in OpenTok's shape.

import { ErrorNames, otError } from './errors.js';
import { createLogger } from './log.js';

const log = createLogger('Peer');

// How long an offer or answer waits for ICE gathering before it is sent
// with the candidates found so far; later ones are trickled.
const GATHERING_TIMEOUT_MS = 1500;

function normalizeIceServers(list) {
  if (!Array.isArray(list)) return [];
  const out = [];
  for (const server of list) {
    if (!server || typeof server !== 'object') continue;
    const urls = Array.isArray(server.urls) ? server.urls.filter((u) => typeof u === 'string') : server.urls;
    if (!(typeof urls === 'string' ? urls : urls && urls.length)) continue;
    const entry = { urls };
    if (typeof server.username === 'string') entry.username = server.username;
    if (typeof server.credential === 'string') entry.credential = server.credential;
    out.push(entry);
  }
  return out;
}

// rtcConfiguration applies OpenTok's iceConfig {includeServers: 'all' |
// 'custom', transportPolicy: 'all' | 'relay', customServers} to the ICE
// servers the server announced in `connected`.
export function rtcConfiguration(serverIceServers, iceConfig) {
  const config = iceConfig && typeof iceConfig === 'object' ? iceConfig : {};
  const custom = normalizeIceServers(config.customServers);
  const servers = config.includeServers === 'custom' ? custom : [...normalizeIceServers(serverIceServers), ...custom];
  const rtc = { iceServers: servers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  if (config.transportPolicy === 'relay') rtc.iceTransportPolicy = 'relay';
  return rtc;
}

export function createPeerConnection(configuration) {
  if (typeof RTCPeerConnection === 'undefined') {
    throw otError(ErrorNames.UNSUPPORTED_BROWSER, 'this browser has no RTCPeerConnection', 1500);
  }
  return new RTCPeerConnection(configuration);
}

// waitForGathering resolves when ICE gathering completes, the deadline
// passes, or the connection closes; it never rejects.
export function waitForGathering(pc, timeoutMs = GATHERING_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete' || pc.signalingState === 'closed') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// waitForConnected resolves when the peer connection is connected and
// rejects when it fails, closes, takes longer than timeoutMs or signal
// (an optional AbortSignal) aborts, with the abort's reason.
export function waitForConnected(pc, timeoutMs, signal) {
  if (pc.connectionState === 'connected') return Promise.resolve();
  if (signal && signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const finish = (error) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      if (signal) signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => finish(signal.reason || new Error('aborted'));
    const check = () => {
      const state = pc.connectionState;
      if (state === 'connected') finish();
      else if (state === 'failed' || state === 'closed') finish(new Error(`the media connection ${state}`));
    };
    const timer = setTimeout(() => finish(new Error(`the media connection did not connect in ${timeoutMs} ms`)), timeoutMs);
    pc.addEventListener('connectionstatechange', check);
    if (signal) signal.addEventListener('abort', onAbort);
  });
}

// CandidateTrickler sends the local candidates that an offer or answer
// did not carry: those found after the SDP was sent. It holds them until
// the peer connection's id (stream id or subscriber id) is known.
export class CandidateTrickler {
  #pc;
  #send;
  #id = '';
  #sdpSent = false;
  #queue = [];

  constructor(pc, send) {
    this.#pc = pc;
    this.#send = send;
    pc.addEventListener('icecandidate', (e) => this.#onCandidate(e.candidate));
  }

  // negotiating: a new offer or answer is being prepared; its candidates
  // will be in its SDP.
  negotiating() {
    this.#sdpSent = false;
    this.#queue = [];
  }

  // sdpSent: the SDP was just read and sent; later candidates trickle.
  sdpSent() {
    this.#sdpSent = true;
  }

  setId(id) {
    this.#id = id;
    const queued = this.#queue;
    this.#queue = [];
    queued.forEach((c) => this.#deliver(c));
  }

  #onCandidate(candidate) {
    if (!candidate || !candidate.candidate || !this.#sdpSent) return;
    const init = { candidate: candidate.candidate };
    if (typeof candidate.sdpMid === 'string') init.sdpMid = candidate.sdpMid;
    if (typeof candidate.sdpMLineIndex === 'number') init.sdpMLineIndex = candidate.sdpMLineIndex;
    if (this.#id) this.#deliver(init);
    else this.#queue.push(init);
  }

  #deliver(init) {
    if (this.#pc.signalingState === 'closed') return;
    try {
      this.#send(this.#id, init);
    } catch (err) {
      log.debug('cannot trickle a candidate:', err);
    }
  }
}

// closePeerConnection closes pc and drops its handlers; it never throws.
export function closePeerConnection(pc) {
  if (!pc) return;
  try {
    pc.ontrack = null;
    pc.onicecandidate = null;
    pc.onconnectionstatechange = null;
    if (pc.signalingState !== 'closed') pc.close();
  } catch (err) {
    log.debug('closing a peer connection:', err);
  }
}

// selectedPairsOnly returns report with `nominated` left only on each
// transport's selected candidate pair. Chrome keeps `nominated: true` on
// pairs it has since switched away from, and stats consumers (such as
// opentok-network-test-js) take the first nominated pair as the one in use.
export function selectedPairsOnly(report) {
  const selected = new Set();
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) selected.add(s.selectedCandidatePairId);
  });
  if (selected.size === 0) return report;
  const out = new Map();
  report.forEach((s, id) => {
    out.set(id, s.type === 'candidate-pair' && s.nominated && !selected.has(s.id) ? { ...s, nominated: false } : s);
  });
  return out;
}

function kindOf(report) {
  return report.kind || report.mediaType;
}

// publisherStats maps a send-side RTCStatsReport to OpenTok's
// PublisherStats {audio{bytesSent, packetsSent, packetsLost}, video{…,
// frameRate}, timestamp}.
export function publisherStats(report) {
  const stats = {
    audio: { bytesSent: 0, packetsSent: 0, packetsLost: 0 },
    video: { bytesSent: 0, packetsSent: 0, packetsLost: 0, frameRate: 0 },
    timestamp: Date.now(),
  };
  report.forEach((s) => {
    const target = stats[kindOf(s)];
    if (!target) return;
    if (s.type === 'outbound-rtp' && !s.isRemote) {
      target.bytesSent += s.bytesSent || 0;
      target.packetsSent += s.packetsSent || 0;
      if (kindOf(s) === 'video' && typeof s.framesPerSecond === 'number') target.frameRate = s.framesPerSecond;
    } else if (s.type === 'remote-inbound-rtp') {
      target.packetsLost += Math.max(0, s.packetsLost || 0);
    }
  });
  return stats;
}

// subscriberStats maps a receive-side RTCStatsReport to OpenTok's
// SubscriberStats {audio{bytesReceived, packetsLost, packetsReceived},
// video{…, frameRate, width, height}, timestamp}.
export function subscriberStats(report) {
  const stats = {
    audio: { bytesReceived: 0, packetsLost: 0, packetsReceived: 0 },
    video: { bytesReceived: 0, packetsLost: 0, packetsReceived: 0, frameRate: 0, width: 0, height: 0 },
    timestamp: Date.now(),
  };
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.isRemote) return;
    const kind = kindOf(s);
    const target = stats[kind];
    if (!target) return;
    target.bytesReceived += s.bytesReceived || 0;
    target.packetsLost += Math.max(0, s.packetsLost || 0);
    target.packetsReceived += s.packetsReceived || 0;
    if (kind === 'video') {
      if (typeof s.framesPerSecond === 'number') target.frameRate = s.framesPerSecond;
      if (typeof s.frameWidth === 'number') target.width = s.frameWidth;
      if (typeof s.frameHeight === 'number') target.height = s.frameHeight;
    }
  });
  return stats;
}
