// Drives the official OpenTok Node SDK's archive calls against a live
// Parley with a client publishing in a routed session, and prints each
// call's outcome as JSON; test/sdk asserts on it and on what the client
// saw.
// Environment: PARLEY_URL, PARLEY_API_KEY, PARLEY_API_SECRET, ROUTED,
// RELAYED, STREAM (a stream of the routed session).
'use strict';
const OpenTok = require('opentok');

const env = process.env;
const ot = new OpenTok(env.PARLEY_API_KEY, env.PARLEY_API_SECRET, { apiUrl: env.PARLEY_URL });
const unknownArchive = '0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f';

// The SDK's error classes have no names of their own: tell them apart
// with instanceof.
const classes = ['ArchiveError', 'RequestError', 'NotFoundError', 'ArgumentError', 'AuthError'];

function describe(err) {
  if (!err) return null;
  const cls = classes.find((c) => OpenTok[c] && err instanceof OpenTok[c]) || 'Error';
  return { name: err.name, message: err.message, constructor: cls };
}

// call resolves with the callback's arguments: error, value, and a third
// one (listArchives' total; startArchive's second error on a 409).
function call(fn) {
  return new Promise((resolve) => {
    try {
      fn((err, value, extra) => resolve({
        error: describe(err),
        value: value instanceof Error ? describe(value) : value === undefined ? null : value,
        extra: extra === undefined ? null : extra,
      }));
    } catch (e) {
      resolve({ error: { name: e.name, message: e.message, thrown: true }, value: null, extra: null });
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const out = {};
  out.start = await call((cb) => ot.startArchive(env.ROUTED, { name: 'node archive', outputMode: 'individual' }, cb));
  const id = out.start.value && out.start.value.id;
  out.startAgain = await call((cb) => ot.startArchive(env.ROUTED, { outputMode: 'individual' }, cb));
  out.startRelayed = await call((cb) => ot.startArchive(env.RELAYED, { outputMode: 'individual' }, cb));
  out.startBadLayout = await call((cb) => ot.startArchive(env.ROUTED, { multiArchiveTag: 'composed', layout: { type: 'custom' } }, cb));
  out.startUnknown = await call((cb) => ot.startArchive('1_MX4' + env.PARLEY_API_KEY + 'fn5-MTIzfnh4fn4', { outputMode: 'individual' }, cb));
  out.startResolution = await call((cb) => ot.startArchive(env.ROUTED, { outputMode: 'individual', resolution: '1280x720', multiArchiveTag: 'r' }, cb));

  out.manual = await call((cb) => ot.startArchive(env.ROUTED, { outputMode: 'individual', streamMode: 'manual', multiArchiveTag: 'manual', hasVideo: true }, cb));
  const manual = out.manual.value && out.manual.value.id;
  out.addStream = await call((cb) => ot.addArchiveStream(manual, env.STREAM, { hasVideo: false }, cb));
  out.getManual = await call((cb) => ot.getArchive(manual, cb));
  out.addUnknownStream = await call((cb) => ot.addArchiveStream(manual, 'no-such-stream', cb));
  out.addToAuto = await call((cb) => ot.addArchiveStream(id, env.STREAM, cb));
  out.removeStream = await call((cb) => ot.removeArchiveStream(manual, env.STREAM, cb));
  out.deleteRecording = await call((cb) => ot.deleteArchive(manual, cb));

  out.get = await call((cb) => ot.getArchive(id, cb));
  out.list = await call((cb) => ot.listArchives({ sessionId: env.ROUTED }, cb));
  out.listPage = await call((cb) => ot.listArchives({ offset: 1, count: 1 }, cb));
  out.getUnknown = await call((cb) => ot.getArchive(unknownArchive, cb));

  await sleep(3000); // record three seconds
  out.stop = await call((cb) => ot.stopArchive(id, cb));
  out.stopAgain = await call((cb) => ot.stopArchive(id, cb));
  out.stopUnknown = await call((cb) => ot.stopArchive(unknownArchive, cb));
  out.stopManual = await call((cb) => ot.stopArchive(manual, cb));

  let available = null;
  for (let i = 0; i < 100; i++) {
    const r = await call((cb) => ot.getArchive(id, cb));
    if (r.value && (r.value.status === 'available' || r.value.status === 'failed')) {
      available = r;
      break;
    }
    await sleep(100);
  }
  out.available = available;
  if (available && available.value && available.value.url) {
    const res = await fetch(available.value.url);
    const body = Buffer.from(await res.arrayBuffer());
    out.download = { status: res.status, type: res.headers.get('content-type'), bytes: body.length, magic: body.subarray(0, 4).toString('hex') };
  }

  out.delete = await call((cb) => ot.deleteArchive(id, cb));
  out.deleteAgain = await call((cb) => ot.deleteArchive(id, cb));
  out.getDeleted = await call((cb) => ot.getArchive(id, cb));
  if (available && available.value && available.value.url) {
    const res = await fetch(available.value.url);
    out.downloadDeleted = { status: res.status };
  }

  // A composed archive, its layout changed while it records.
  out.composed = await call((cb) => ot.startArchive(env.ROUTED, { name: 'composed', resolution: '1280x720',
    layout: { type: 'bestFit', screenshareType: 'pip' } }, cb));
  const composed = out.composed.value && out.composed.value.id;
  out.setLayout = await call((cb) => ot.setArchiveLayout(composed, 'verticalPresentation', null, cb));
  out.setBadLayout = await call((cb) => ot.setArchiveLayout(composed, 'grid', null, cb));
  await sleep(3000);
  out.stopComposed = await call((cb) => ot.stopArchive(composed, cb));
  for (let i = 0; i < 300; i++) {
    const r = await call((cb) => ot.getArchive(composed, cb));
    out.composedAvailable = r;
    if (r.value && (r.value.status === 'available' || r.value.status === 'failed')) break;
    await sleep(100);
  }
  const c = out.composedAvailable.value;
  if (c && c.url) {
    const res = await fetch(c.url);
    const body = Buffer.from(await res.arrayBuffer());
    out.composedDownload = { status: res.status, type: res.headers.get('content-type'), bytes: body.length, magic: body.subarray(4, 8).toString() };
  }
  out.deleteComposed = await call((cb) => ot.deleteArchive(composed, cb));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
