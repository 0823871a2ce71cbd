// The event system shared by every emitter (OT, Session, Publisher,
// Subscriber): on/once/off with OpenTok.js's argument forms, event objects
// with preventDefault, and handlers that cannot break the SDK.

import { createLogger } from './log.js';

const log = createLogger('Events');

// Event is what handlers receive. Payload fields (stream, reason, …) are
// plain properties; type, target and cancelable are always present.
export class Event {
  #prevented = false;

  constructor(type, payload = {}, { cancelable = false, target = null } = {}) {
    Object.assign(this, payload);
    this.type = type;
    this.cancelable = Boolean(cancelable);
    this.target = target;
  }

  // preventDefault stops the SDK's default action of a cancelable event
  // (removing a subscriber's element, destroying a publisher, …).
  preventDefault() {
    if (this.cancelable) {
      this.#prevented = true;
    } else {
      log.warn(`the "${this.type}" event is not cancelable; preventDefault() has no effect`);
    }
  }

  isDefaultPrevented() {
    return this.#prevented;
  }
}

function isEventMap(value) {
  return value !== null && typeof value === 'object';
}

function splitTypes(types) {
  return typeof types === 'string' ? types.split(/\s+/).filter(Boolean) : [];
}

export class EventEmitter {
  // type → [{handler, context, once}]
  #listeners = new Map();

  // on(type, handler, context), on('a b', handler), on({a: fn, b: fn}, context).
  on(types, handler, context) {
    return this.#add(types, handler, context, false);
  }

  once(types, handler, context) {
    return this.#add(types, handler, context, true);
  }

  // off() removes every handler; off(type) every handler of type;
  // off(type, handler[, context]) that handler; off({type: fn}, context).
  off(types, handler, context) {
    if (types === undefined && handler === undefined) {
      const changed = [...this.#listeners.keys()];
      this.#listeners.clear();
      changed.forEach((type) => this._listenersChanged(type));
      return this;
    }
    if (isEventMap(types)) {
      for (const [type, fn] of Object.entries(types)) this.#remove(type, fn, handler);
      return this;
    }
    for (const type of splitTypes(types)) this.#remove(type, handler, context);
    return this;
  }

  addEventListener(types, handler, context) {
    return this.on(types, handler, context);
  }

  removeEventListener(types, handler, context) {
    return this.off(types, handler, context);
  }

  #add(types, handler, context, once) {
    if (isEventMap(types)) {
      // The second argument is the context in the map form.
      for (const [type, fn] of Object.entries(types)) this.#add(type, fn, handler, once);
      return this;
    }
    const list = splitTypes(types);
    if (list.length === 0 || typeof handler !== 'function') {
      log.error('on/once need an event name and a handler function', types);
      return this;
    }
    for (const type of list) {
      if (!this.#listeners.has(type)) this.#listeners.set(type, []);
      this.#listeners.get(type).push({ handler, context, once });
      this._listenersChanged(type);
    }
    return this;
  }

  #remove(type, handler, context) {
    const entries = this.#listeners.get(type);
    if (!entries) return;
    const kept = entries.filter(
      (e) =>
        !(
          (handler === undefined || e.handler === handler) &&
          (context === undefined || e.context === context)
        ),
    );
    if (kept.length === entries.length) return;
    if (kept.length) this.#listeners.set(type, kept);
    else this.#listeners.delete(type);
    this._listenersChanged(type);
  }

  #removeEntry(type, entry) {
    const entries = this.#listeners.get(type);
    const i = entries ? entries.indexOf(entry) : -1;
    if (i < 0) return;
    entries.splice(i, 1);
    if (entries.length === 0) this.#listeners.delete(type);
    this._listenersChanged(type);
  }

  // _hasListeners tells whether anyone listens to type (used to run costly
  // producers, like the audio level meter, only when needed).
  _hasListeners(type) {
    return (this.#listeners.get(type)?.length ?? 0) > 0;
  }

  // _listenersChanged is a hook for subclasses; type's handlers changed.
  _listenersChanged(_type) {}

  // _emitAs calls the handlers of type with event (whose own type may
  // differ: a signal:chat event also reaches the 'signal' handlers).
  _emitAs(type, event) {
    const entries = this.#listeners.get(type);
    if (!entries || entries.length === 0) return;
    if (event.target === null || event.target === undefined) event.target = this;
    for (const entry of [...entries]) {
      if (entry.once) this.#removeEntry(type, entry);
      try {
        entry.handler.call(entry.context ?? this, event);
      } catch (err) {
        log.error(`exception in a "${type}" event handler:`, err);
      }
    }
  }

  // _emit dispatches event to its type's handlers, then runs defaultAction
  // unless a handler called preventDefault().
  _emit(event, defaultAction) {
    if (event.target === null || event.target === undefined) event.target = this;
    this._emitAs(event.type, event);
    if (typeof defaultAction === 'function' && !event.isDefaultPrevented()) {
      try {
        defaultAction(event);
      } catch (err) {
        log.error(`the default action of "${event.type}" failed:`, err);
      }
    }
    return event;
  }
}
