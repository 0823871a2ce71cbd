// Relayed sessions (docs/protocol.md, "Relayed sessions"): media flows
// between browsers and the server only carries the negotiation. The
// publisher holds one RelaySender (a send-only peer connection) per
// subscriber and makes the offers; the subscriber's RelayReceiver answers
// them. Offers, answers, candidates and ICE-restart requests travel as
// `relay` messages.

import { createLogger } from './log.js';
import { CandidateTrickler, closePeerConnection, createPeerConnection } from './peer.js';
import { isPlainObject, noop } from './util.js';

const log = createLogger('Relay');

// A publisher restarts ICE on its own (a failed peer connection) at most
// this often.
const RESTART_INTERVAL_MS = 5000;
// A subscriber's restart request that comes this soon after an offer with
// new credentials was sent is answered by that offer.
const RESTART_DEDUP_MS = 2000;

function candidateInit(json) {
  if (!isPlainObject(json) || typeof json.candidate !== 'string') return null;
  const init = { candidate: json.candidate };
  if (typeof json.sdpMid === 'string') init.sdpMid = json.sdpMid;
  if (Number.isInteger(json.sdpMLineIndex) && json.sdpMLineIndex >= 0) init.sdpMLineIndex = json.sdpMLineIndex;
  if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0;
  return init;
}

// readRelay checks a `relay` message: it returns {subscriberId, streamId,
// offer | answer | candidate | restart} with exactly one of the four, or
// null when the message is malformed.
export function readRelay(msg) {
  const subscriberId = typeof msg.subscriberId === 'string' ? msg.subscriberId : '';
  if (!subscriberId) return null;
  const relay = { subscriberId, streamId: typeof msg.streamId === 'string' ? msg.streamId : '' };
  let parts = 0;
  if (typeof msg.offer === 'string' && msg.offer) {
    relay.offer = msg.offer;
    parts += 1;
  }
  if (typeof msg.answer === 'string' && msg.answer) {
    relay.answer = msg.answer;
    parts += 1;
  }
  if (msg.candidate !== undefined && msg.candidate !== null) {
    relay.candidate = candidateInit(msg.candidate);
    if (!relay.candidate) return null;
    parts += 1;
  }
  if (msg.restart === true) {
    relay.restart = true;
    parts += 1;
  }
  return parts === 1 ? relay : null;
}

// RelayChannel is what both ends share for one relayed subscription: the
// peer's messages are handled one at a time, in order (an offer is fully
// applied before the candidates that follow it), remote candidates wait
// for a remote description, and local candidates trickle as `relay`
// messages.
class RelayChannel {
  #pc;
  #link;
  #subscriberId;
  #tail = Promise.resolve();
  #heldCandidates = [];
  #closed = false;

  constructor(pc, link, subscriberId) {
    this.#pc = pc;
    this.#link = link;
    this.#subscriberId = subscriberId;
    this.trickler = new CandidateTrickler(pc, (id, candidate) => {
      link.notify('relay', { subscriberId: id, candidate });
    });
    this.trickler.setId(subscriberId);
  }

  get closed() {
    return this.#closed;
  }

  // run queues step; a step that fails is logged and the next one runs.
  // The returned promise settles like the step and is always handled.
  run(what, step) {
    const result = this.#tail.then(() => (this.#closed ? undefined : step()));
    this.#tail = result.catch((err) => {
      if (!this.#closed) log.warn(`${what} failed for ${this.#subscriberId}:`, (err && err.message) || err);
    });
    return result;
  }

  // addCandidate applies (or holds) a candidate from the peer.
  addCandidate(init) {
    this.run('adding a candidate', () => {
      if (!init.candidate) return undefined; // end of candidates
      if (!this.#pc.remoteDescription) {
        this.#heldCandidates.push(init);
        return undefined;
      }
      return this.#apply(init);
    });
  }

  // remoteDescriptionSet applies the candidates that came too early.
  remoteDescriptionSet() {
    const held = this.#heldCandidates;
    this.#heldCandidates = [];
    return Promise.all(held.map((init) => this.#apply(init)));
  }

  #apply(init) {
    return this.#pc.addIceCandidate(init).catch((err) => {
      // Candidates of an ICE generation that was replaced are refused.
      if (!this.#closed) log.debug('a candidate was refused:', (err && err.message) || err);
    });
  }

  // send sends one relay message (an offer, an answer or a restart
  // request). It resolves when the server accepted it and never rejects:
  // a refusal is logged (404: the subscription is gone, and a
  // relayUnsubscribe or streamDestroyed follows).
  send(fields) {
    if (this.#closed) return Promise.resolve(false);
    return this.#link.request('relay', { subscriberId: this.#subscriberId, ...fields }).then(
      () => true,
      (err) => {
        if (!this.#closed) log.warn(`cannot relay to ${this.#subscriberId}:`, (err && err.message) || err);
        return false;
      },
    );
  }

  close() {
    this.#closed = true;
    this.#heldCandidates = [];
  }
}

// RelaySender is the publisher's end of one relayed subscription: a
// send-only peer connection to one subscriber.
export class RelaySender {
  #pc;
  #link;
  #channel;
  #lastRestart = 0;
  #restartWanted = false;

  // request: {subscriberId, connectionId, audio, video} from
  // relaySubscribe; media: {audioTrack, videoTrack, mediaStream}.
  constructor(link, request, media) {
    this.subscriberId = request.subscriberId;
    this.connectionId = request.connectionId;
    this.#link = link;
    const pc = createPeerConnection(link.rtcConfiguration());
    this.#pc = pc;
    this.#channel = new RelayChannel(pc, link, request.subscriberId);
    pc.addEventListener('connectionstatechange', () => this.#onState());
    try {
      const streams = [media.mediaStream];
      if (request.audio && media.audioTrack) pc.addTransceiver(media.audioTrack, { direction: 'sendonly', streams });
      if (request.video && media.videoTrack) pc.addTransceiver(media.videoTrack, { direction: 'sendonly', streams });
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get pc() {
    return this.#pc;
  }

  get connectionState() {
    return this.#pc.connectionState;
  }

  // start sends the first offer.
  start() {
    this.#channel.run('the offer', () => this.#offer(false)).catch(noop);
  }

  // handle takes the subscriber's answer, candidate or restart request.
  handle(relay) {
    if (relay.answer) {
      this.#channel.run('applying the answer', () => this.#applyAnswer(relay.answer)).catch(noop);
    } else if (relay.candidate) {
      this.#channel.addCandidate(relay.candidate);
    } else if (relay.restart) {
      this.#restartOnRequest();
    } else {
      log.debug('ignoring an offer sent to a publisher');
    }
  }

  async #offer(iceRestart) {
    const pc = this.#pc;
    this.#channel.trickler.negotiating();
    const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    if (this.#channel.closed) return;
    await pc.setLocalDescription(offer);
    if (this.#channel.closed) return;
    // Candidates found so far are in this SDP; later ones trickle.
    const sdp = pc.localDescription.sdp;
    this.#channel.trickler.sdpSent();
    this.#channel.send({ offer: sdp });
  }

  async #applyAnswer(sdp) {
    const pc = this.#pc;
    if (pc.signalingState !== 'have-local-offer') {
      log.debug(`ignoring an answer in signaling state ${pc.signalingState}`);
      return;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp });
    await this.#channel.remoteDescriptionSet();
  }

  // #restartOnRequest: the subscriber lost the media link. An offer still
  // waiting for its answer, or one with new credentials sent just now,
  // serves; otherwise a new one goes out.
  #restartOnRequest() {
    this.#channel
      .run('an ICE restart', () => {
        if (this.#pc.signalingState !== 'stable') return undefined;
        if (Date.now() - this.#lastRestart < RESTART_DEDUP_MS) return undefined;
        return this.#restart();
      })
      .catch(noop);
  }

  #restart() {
    this.#lastRestart = Date.now();
    this.#restartWanted = false;
    log.debug('restarting ICE with', this.subscriberId);
    return this.#offer(true);
  }

  #onState() {
    if (this.#channel.closed) return;
    const state = this.#pc.connectionState;
    log.debug(`media link to ${this.subscriberId}:`, state);
    if (state === 'connected') {
      this.#restartWanted = false;
    } else if (state === 'failed') {
      this.#restartWanted = true;
      this.#restartIfWanted();
    }
  }

  // afterReconnect: the signaling link is back; a peer connection that
  // failed meanwhile restarts.
  afterReconnect() {
    this.#restartIfWanted();
  }

  #restartIfWanted() {
    if (!this.#restartWanted || this.#channel.closed || !this.#link.isConnected()) return;
    if (Date.now() - this.#lastRestart < RESTART_INTERVAL_MS) return;
    this.#channel
      .run('an ICE restart', () => {
        if (!this.#restartWanted || this.#pc.signalingState !== 'stable') return undefined;
        return this.#restart();
      })
      .catch(noop);
  }

  // replaceTrack swaps a track of this peer connection (a device switch);
  // a subscription without that kind of media is left alone.
  async replaceTrack(kind, oldTrack, track) {
    if (this.#channel.closed || this.#pc.signalingState === 'closed') return;
    const transceiver = this.#pc
      .getTransceivers()
      .find((t) => t.sender.track === oldTrack || (t.receiver && t.receiver.track && t.receiver.track.kind === kind));
    if (transceiver) await transceiver.sender.replaceTrack(track);
  }

  close() {
    this.#channel.close();
    closePeerConnection(this.#pc);
  }
}

// RelayReceiver is the subscriber's end: it answers the publisher's
// offers on pc (which the Subscriber owns and renders).
export class RelayReceiver {
  #pc;
  #channel;
  #onFailure;

  // onFailure(err) is told when an offer cannot be answered.
  constructor(pc, link, subscriberId, onFailure) {
    this.#pc = pc;
    this.#channel = new RelayChannel(pc, link, subscriberId);
    this.#onFailure = typeof onFailure === 'function' ? onFailure : noop;
  }

  // handle takes the publisher's offer or candidate.
  handle(relay) {
    if (relay.offer) {
      this.#channel.run('answering the offer', () => this.#answer(relay.offer)).catch((err) => {
        if (!this.#channel.closed) this.#onFailure(err);
      });
    } else if (relay.candidate) {
      this.#channel.addCandidate(relay.candidate);
    } else {
      log.debug('ignoring an answer or restart request sent to a subscriber');
    }
  }

  async #answer(offer) {
    const pc = this.#pc;
    this.#channel.trickler.negotiating();
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    if (this.#channel.closed) return;
    await this.#channel.remoteDescriptionSet();
    const answer = await pc.createAnswer();
    if (this.#channel.closed) return;
    await pc.setLocalDescription(answer);
    if (this.#channel.closed) return;
    const sdp = pc.localDescription.sdp;
    this.#channel.trickler.sdpSent();
    // Not awaited: the publisher's candidates need not wait for the
    // server's acknowledgement.
    this.#channel.send({ answer: sdp }).then((sent) => {
      if (!sent && !this.#channel.closed) this.#onFailure(new Error('the answer could not be relayed'));
    }).catch((err) => log.error('handling a relay failure:', err));
  }

  // requestRestart asks the publisher for an offer with new ICE
  // credentials. It resolves with whether the server took the request.
  requestRestart() {
    return this.#channel.send({ restart: true });
  }

  close() {
    this.#channel.close();
  }
}
