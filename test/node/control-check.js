// Drives the official OpenTok Node SDK's session controls against a live
// Parley with clients connected, and prints each call's outcome as JSON;
// test/sdk asserts on it and on what the clients saw.
// Environment: PARLEY_URL, PARLEY_API_KEY, PARLEY_API_SECRET, SESSION,
// CONN_A, CONN_B, STREAM_A, OTHER_KEY, OTHER_SECRET.
'use strict';
const OpenTok = require('opentok');

const env = process.env;
const ot = new OpenTok(env.PARLEY_API_KEY, env.PARLEY_API_SECRET, { apiUrl: env.PARLEY_URL });
const other = new OpenTok(env.OTHER_KEY, env.OTHER_SECRET, { apiUrl: env.PARLEY_URL });
const sid = env.SESSION;

function call(fn) {
  return new Promise((resolve) => {
    try {
      fn((err, value) => resolve({
        error: err ? { name: err.name, message: err.message, constructor: err.constructor && err.constructor.name } : null,
        value: value === undefined ? null : value,
      }));
    } catch (e) {
      resolve({ error: { name: e.name, message: e.message, thrown: true }, value: null });
    }
  });
}

async function main() {
  const out = {};
  out.signalAll = await call((cb) => ot.signal(sid, null, { type: 'hello', data: 'all' }, cb));
  out.signalB = await call((cb) => ot.signal(sid, env.CONN_B, { type: 'dm', data: 'b only' }, cb));
  out.signalUnknownConnection = await call((cb) => ot.signal(sid, 'no-such-connection', { type: 'x', data: 'y' }, cb));
  out.signalTooLarge = await call((cb) => ot.signal(sid, null, { type: 'big', data: 'x'.repeat(8193) }, cb));
  out.signalBadType = await call((cb) => ot.signal(sid, null, { type: 'bad type!', data: '' }, cb));
  out.signalUnknownSession = await call((cb) => ot.signal('1_MX4' + env.PARLEY_API_KEY + 'fn5-MTIzfnh4fn4', null, { type: 'x', data: 'y' }, cb));
  out.getStream = await call((cb) => ot.getStream(sid, env.STREAM_A, cb));
  out.getUnknownStream = await call((cb) => ot.getStream(sid, 'no-such-stream', cb));
  out.listStreams = await call((cb) => ot.listStreams(sid, cb));
  out.setClassLists = await call((cb) => ot.setStreamClassLists(sid, [{ id: env.STREAM_A, layoutClassList: ['full', 'focus'] }], cb));
  out.getStreamAfter = await call((cb) => ot.getStream(sid, env.STREAM_A, cb));
  out.setClassListsUnknown = await call((cb) => ot.setStreamClassLists(sid, [{ id: 'no-such-stream', layoutClassList: ['x'] }], cb));
  out.muteStream = await call((cb) => ot.forceMuteStream(sid, env.STREAM_A, cb));
  out.muteUnknownStream = await call((cb) => ot.forceMuteStream(sid, 'no-such-stream', cb));
  out.muteAll = await call((cb) => ot.forceMuteAll(sid, { excludedStreamIds: [env.STREAM_A] }, cb));
  out.disableForceMute = await call((cb) => ot.disableForceMute(sid, cb));
  out.forceDisconnectUnknown = await call((cb) => ot.forceDisconnect(sid, 'no-such-connection', cb));
  out.otherProject = await call((cb) => other.signal(sid, null, { type: 'x', data: 'y' }, cb));
  out.forceDisconnectB = await call((cb) => ot.forceDisconnect(sid, env.CONN_B, cb));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
