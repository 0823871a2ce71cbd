// The default UI of publishers and subscribers: a div.OT_publisher or
// div.OT_subscriber (class OT_root) holding the video element, a name bar
// (.OT_name) and a muted-microphone badge (.OT_audio-muted), placed in the
// page per insertMode. With insertDefaultUI: false there is no element;
// the app gets the bare video element through 'videoElementCreated'.

import { createLogger } from './log.js';
import { isPlainObject } from './util.js';

const log = createLogger('Widget');

const STYLE_ID = 'parley-ot-styles';
const DEFAULT_WIDTH = '264px';
const DEFAULT_HEIGHT = '198px';
const INSERT_MODES = new Set(['replace', 'after', 'before', 'append']);

const CSS = `
.OT_root{position:relative;overflow:hidden;box-sizing:border-box;background:#000;color:#fff;min-width:48px;min-height:48px;font-family:Arial,Helvetica,sans-serif}
.OT_root .OT_widget-container{position:absolute;top:0;right:0;bottom:0;left:0;overflow:hidden;background:#000}
.OT_root .OT_video-element{display:block;width:100%;height:100%;object-fit:cover;background:#000}
.OT_root.OT_fit-mode-contain .OT_video-element{object-fit:contain}
.OT_root.OT_mirrored .OT_video-element{transform:scaleX(-1)}
.OT_root.OT_audio-only .OT_video-element{visibility:hidden}
.OT_root .OT_name{position:absolute;top:0;left:0;right:0;padding:4px 8px;background:rgba(0,0,0,.45);font-size:13px;line-height:18px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;pointer-events:none;z-index:2}
.OT_root .OT_audio-muted{position:absolute;right:6px;bottom:6px;width:26px;height:26px;border-radius:50%;background:rgba(200,30,30,.85);z-index:2;pointer-events:none}
.OT_root .OT_audio-muted svg{display:block;width:16px;height:16px;margin:5px}
`;

const MUTED_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="#fff" d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z"/><path stroke="#fff" stroke-width="2" d="M4 4l16 16"/></svg>';

function hasDom() {
  return typeof document !== 'undefined' && typeof document.createElement === 'function';
}

function injectStyles() {
  if (!hasDom() || document.getElementById(STYLE_ID)) return;
  const style = document.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  (document.head || document.documentElement).appendChild(style);
}

export function newId() {
  const random =
    typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `OT_${random}`;
}

// cssSize turns a width/height property into CSS: numbers are pixels.
export function cssSize(value, fallback) {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return `${value}px`;
  if (typeof value === 'string' && value.trim() !== '') return /^\d+(\.\d+)?$/.test(value.trim()) ? `${value.trim()}px` : value.trim();
  return fallback;
}

function isElement(value) {
  return value !== null && typeof value === 'object' && value.nodeType === 1;
}

// isTarget tells whether value can be initPublisher/subscribe's target
// (an element or an element id) rather than a properties object.
export function isTarget(value) {
  return typeof value === 'string' || isElement(value);
}

function appendToBody(el) {
  if (document.body) {
    document.body.appendChild(el);
  } else if (typeof document.addEventListener === 'function') {
    document.addEventListener('DOMContentLoaded', () => document.body && document.body.appendChild(el), { once: true });
  }
}

function resolveTarget(target) {
  if (target === undefined || target === null || target === '') return null;
  if (isElement(target)) return target;
  if (typeof target === 'string') {
    const found = document.getElementById(target);
    if (found) return found;
    log.warn(`no element has the id "${target}"; one is added to the page`);
    const el = document.createElement('div');
    el.id = target;
    appendToBody(el);
    return el;
  }
  log.warn('the target is neither an element nor an element id; the widget is added to the page');
  return null;
}

function insert(root, target, insertMode) {
  const el = resolveTarget(target);
  if (!el) {
    appendToBody(root);
    return;
  }
  const mode = INSERT_MODES.has(insertMode) ? insertMode : 'replace';
  const parent = el.parentNode;
  const isPageRoot = el === document.body || el === document.documentElement;
  if (mode === 'append' || isPageRoot || !parent) {
    el.appendChild(root);
  } else if (mode === 'after') {
    parent.insertBefore(root, el.nextSibling);
  } else if (mode === 'before') {
    parent.insertBefore(root, el);
  } else {
    // replace: the widget takes the target's place and its id.
    if (el.id) root.id = el.id;
    parent.replaceChild(root, el);
  }
}

export class Widget {
  #root = null;
  #video;
  #name = null;
  #muted = null;
  #nameHidden = false;
  #id;

  // kind is 'publisher' or 'subscriber'.
  constructor(kind, target, props = {}) {
    const withUI = props.insertDefaultUI !== false && hasDom();
    this.#id = newId();
    this.#video = hasDom() ? document.createElement('video') : null;
    if (this.#video) {
      this.#video.autoplay = true;
      this.#video.playsInline = true;
      this.#video.setAttribute('playsinline', '');
      this.#video.setAttribute('autoplay', '');
      if (kind === 'publisher') {
        this.#video.muted = true;
        this.#video.setAttribute('muted', '');
      }
    }
    if (!withUI) return;

    injectStyles();
    const root = document.createElement('div');
    root.id = this.#id;
    root.className = `OT_root OT_${kind}`;
    root.style.width = cssSize(props.width, DEFAULT_WIDTH);
    root.style.height = cssSize(props.height, DEFAULT_HEIGHT);

    const container = document.createElement('div');
    container.className = 'OT_widget-container';
    this.#video.className = 'OT_video-element';
    container.appendChild(this.#video);
    root.appendChild(container);

    this.#name = document.createElement('div');
    this.#name.className = 'OT_name OT_edge-bar-item';
    root.appendChild(this.#name);

    this.#muted = document.createElement('div');
    this.#muted.className = 'OT_audio-muted';
    this.#muted.title = 'Microphone muted';
    this.#muted.innerHTML = MUTED_ICON;
    this.#muted.style.display = 'none';
    root.appendChild(this.#muted);

    this.#root = root;
    this.setFitMode(props.fitMode);
    const nameMode = props.style && props.style.nameDisplayMode;
    this.#nameHidden = nameMode === 'off';
    this.setName(props.name);
    insert(root, target, props.insertMode);
    this.#id = root.id;
  }

  // element is the widget's root (undefined without the default UI).
  get element() {
    return this.#root || undefined;
  }

  get id() {
    return this.#id;
  }

  get video() {
    return this.#video;
  }

  setStream(mediaStream) {
    if (!this.#video) return;
    if (this.#video.srcObject !== mediaStream) this.#video.srcObject = mediaStream;
  }

  setName(name) {
    if (!this.#name) return;
    const text = typeof name === 'string' ? name : '';
    this.#name.textContent = text;
    this.#name.style.display = text && !this.#nameHidden ? '' : 'none';
  }

  setAudioMuted(muted) {
    if (this.#muted) this.#muted.style.display = muted ? '' : 'none';
  }

  setVideoDisabled(disabled) {
    if (this.#root) this.#root.classList.toggle('OT_audio-only', Boolean(disabled));
  }

  setMirror(mirror) {
    if (this.#root) this.#root.classList.toggle('OT_mirrored', Boolean(mirror));
  }

  setFitMode(fitMode) {
    const mode = fitMode === 'contain' ? 'contain' : 'cover';
    if (this.#root) {
      this.#root.classList.toggle('OT_fit-mode-contain', mode === 'contain');
      this.#root.classList.toggle('OT_fit-mode-cover', mode === 'cover');
    }
    if (this.#video) this.#video.style.objectFit = mode;
  }

  // snapshot returns the current frame as base64 PNG data (no "data:"
  // prefix), or null when there is no frame yet.
  snapshot() {
    const v = this.#video;
    if (!v || !v.videoWidth || !v.videoHeight) return null;
    try {
      const canvas = document.createElement('canvas');
      canvas.width = v.videoWidth;
      canvas.height = v.videoHeight;
      canvas.getContext('2d').drawImage(v, 0, 0, canvas.width, canvas.height);
      return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
    } catch (err) {
      log.debug('cannot capture a frame:', err);
      return null;
    }
  }

  // remove takes the widget out of the page and releases the video.
  remove() {
    if (this.#video) {
      try {
        this.#video.pause();
      } catch {
        // not playing
      }
      this.#video.srcObject = null;
    }
    if (this.#root && this.#root.parentNode) this.#root.parentNode.removeChild(this.#root);
  }
}

const UNSUPPORTED_ID = 'OT_unsupported-browser';

// showUnsupportedMessage is OT.upgradeSystemRequirements(): a dismissable
// banner saying the browser cannot run video calls.
export function showUnsupportedMessage() {
  if (!hasDom() || document.getElementById(UNSUPPORTED_ID)) return;
  const box = document.createElement('div');
  box.id = UNSUPPORTED_ID;
  box.setAttribute('role', 'alert');
  box.style.cssText =
    'position:fixed;left:0;right:0;top:0;z-index:2147483647;padding:12px 40px 12px 16px;' +
    'background:#222;color:#fff;font:14px/1.4 Arial,Helvetica,sans-serif';
  box.textContent =
    'This browser cannot run video calls (WebRTC is missing). Please use a current version of Chrome, Firefox, Safari or Edge.';
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '\u00d7';
  close.setAttribute('aria-label', 'Close');
  close.style.cssText =
    'position:absolute;right:8px;top:6px;background:none;border:0;color:#fff;font-size:22px;cursor:pointer';
  close.addEventListener('click', () => box.remove());
  box.appendChild(close);
  appendToBody(box);
}

// widgetArgs reads the (target?, properties?, callback?) arguments that
// initPublisher and Session.subscribe take after their first one: either
// may be left out, and a plain object in the target's place is the
// properties.
export function widgetArgs(targetElement, properties, completionHandler) {
  let target = targetElement;
  let props = properties;
  let cb = completionHandler;
  if (typeof target === 'function') {
    cb = target;
    target = undefined;
    props = undefined;
  } else if (isPlainObject(target) && !isTarget(target)) {
    cb = typeof props === 'function' ? props : cb;
    props = target;
    target = undefined;
  }
  if (typeof props === 'function') {
    cb = props;
    props = undefined;
  }
  return [target, isPlainObject(props) ? props : {}, cb];
}
