// Parley browser SDK: the OpenTok.js API (global `OT`) on Parley's
// signaling protocol (docs/protocol.md). An OpenTok.js application runs
// unchanged when its <script src> points at https://PARLEY/v2/js/opentok.js.
//
// The server bundles these ES modules with esbuild (IIFE, global name OT):
// the named exports of this file are the OT object. This file also sets
// window.OT itself, so a bundle made without a global name works the same.
//
// Module layout (one concept per file):
//   index.js       the OT statics (this file)
//   config.js      where the server is: script src, PARLEY_SERVER_URL, OT.setServerUrl
//   log.js         OT.setLogLevel / OT.log and the SDK's own logging
//   events.js      Event and EventEmitter (on/once/off, preventDefault, default actions)
//   errors.js      OTError, OT.ExceptionCodes, error names, server code mapping
//   exceptions.js  the OT 'exception' event
//   signaling.js   the WebSocket link: requests/replies, events, ping, resume
//   session.js     Session: state, events, publish/subscribe/signal/moderation
//   stream.js      Stream and Connection
//   publisher.js   Publisher and OT.initPublisher
//   subscriber.js  Subscriber, OT.unblockAudio, audio output device
//   peer.js        RTCPeerConnection helpers: ICE config, gathering, trickle, stats
//   relay.js       relayed sessions: the peer-to-peer negotiation of both ends
//   media.js       capture, OT.getUserMedia, devices, codecs, audio level meter
//   widget.js      the default UI (div.OT_publisher / div.OT_subscriber)
//   util.js        safe callbacks

import * as OT from './index.js';
import { getServerUrl, setServerUrl as setUrl } from './config.js';
import { ExceptionCodes as CODES } from './errors.js';
import { globalEvents } from './exceptions.js';
import { LEVELS, log as writeLog, setLogLevel as setLevel } from './log.js';
import {
  getAudioOutputDevices as listAudioOutputs,
  getDevices as listDevices,
  getSupportedCodecs as supportedCodecs,
  getUserMedia as captureUserMedia,
  hasGetUserMedia,
  hasScreenCapture,
} from './media.js';
import { initPublisher as createPublisher } from './publisher.js';
import { Session } from './session.js';
import {
  getActiveAudioOutputDeviceId,
  setAudioOutputDevice as chooseAudioOutput,
  unblockAudio as unblockAll,
} from './subscriber.js';
import { callbackify, safeCall } from './util.js';
import { showUnsupportedMessage } from './widget.js';

// __PARLEY_VERSION__ is defined by the server's bundler.
// eslint-disable-next-line no-undef
export const version = typeof __PARLEY_VERSION__ === 'string' ? __PARLEY_VERSION__ : 'dev';

// properties mirrors OpenTok.js's OT.properties where libraries read it:
// loggingURL is where they POST /logging/ClientEvent (Parley answers it).
export const properties = Object.freeze({
  get apiURL() {
    return getServerUrl();
  },
  get loggingURL() {
    return getServerUrl();
  },
  get assetURL() {
    return getServerUrl();
  },
  get version() {
    return version;
  },
});

export const ExceptionCodes = CODES;

export const { NONE, ERROR, WARN, INFO, LOG, DEBUG } = LEVELS;

// initSession(apiKey, sessionId, options?) → Session. options: iceConfig
// {includeServers, transportPolicy, customServers}, serverUrl (Parley),
// connectionEventsSuppressed.
export function initSession(apiKey, sessionId, options) {
  if (checkSystemRequirements() === 0) upgradeSystemRequirements();
  return new Session(apiKey, sessionId, options);
}

// initPublisher(target?, properties?, callback?) → Publisher; also
// initPublisher.promise(target?, properties?) → Promise<Publisher>.
export const initPublisher = createPublisher;

// checkSystemRequirements() → 1 when this browser can publish and
// subscribe (WebRTC, getUserMedia and WebSocket), else 0.
export function checkSystemRequirements() {
  const ok =
    typeof window !== 'undefined' &&
    typeof window.RTCPeerConnection === 'function' &&
    typeof window.WebSocket === 'function' &&
    hasGetUserMedia();
  return ok ? 1 : 0;
}

export function upgradeSystemRequirements() {
  showUnsupportedMessage();
}

// getDevices(callback?) → Promise<[{kind, deviceId, label}]>.
export function getDevices(completionHandler) {
  return callbackify(listDevices(), completionHandler);
}

export function getAudioOutputDevices() {
  return listAudioOutputs();
}

export function setAudioOutputDevice(deviceId) {
  return chooseAudioOutput(deviceId);
}

// getActiveAudioOutputDevice() → Promise<{deviceId, label}>.
export async function getActiveAudioOutputDevice() {
  const outputs = await listAudioOutputs();
  const chosen = getActiveAudioOutputDeviceId() || 'default';
  return outputs.find((d) => d.deviceId === chosen) || outputs[0] || { deviceId: chosen, label: '' };
}

// getUserMedia(properties?) → Promise<MediaStream>, with initPublisher's
// media properties.
export function getUserMedia(properties) {
  return captureUserMedia(properties);
}

// getSupportedCodecs() → Promise<{videoEncoders, videoDecoders}>.
export function getSupportedCodecs() {
  return supportedCodecs();
}

export function setLogLevel(level) {
  setLevel(level);
}

export function log(...args) {
  writeLog(...args);
}

// setServerUrl(url): the Parley server for sessions created afterwards.
export function setServerUrl(url) {
  setUrl(url);
}

export function unblockAudio() {
  return unblockAll();
}

// checkScreenSharingCapability(callback): no extension is ever needed.
export function checkScreenSharingCapability(callback) {
  const supported = hasScreenCapture();
  safeCall(callback, {
    supported,
    supportedSources: { screen: supported, window: supported, application: supported, browser: supported },
    extensionRequired: undefined,
    extensionInstalled: undefined,
    extensionRegistered: undefined,
  });
}

export function registerScreenSharingExtension() {}

export function hasMediaProcessorSupport() {
  return false;
}
hasMediaProcessorSupport.promise = () => Promise.resolve(false);

export function hasEndToEndEncryptionSupport() {
  return false;
}

export function setProxyUrl() {
  // Parley is reached directly; there is no proxy to set.
}

// reportIssue(callback?): Parley keeps no issue reports; a local id is
// returned so that apps calling it carry on.
export function reportIssue(completionHandler) {
  const id = `parley-${Date.now().toString(36)}`;
  return callbackify(Promise.resolve(id), completionHandler);
}

// OT.on / once / off('exception', handler, context).
export function on(type, handler, context) {
  globalEvents.on(type, handler, context);
  return OT;
}

export function once(type, handler, context) {
  globalEvents.once(type, handler, context);
  return OT;
}

export function off(type, handler, context) {
  globalEvents.off(type, handler, context);
  return OT;
}

export const addEventListener = on;
export const removeEventListener = off;

if (typeof window !== 'undefined') window.OT = OT;
