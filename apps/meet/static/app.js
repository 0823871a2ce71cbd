// Meet's page: the pre-join screen, then the room. Built only on the
// OpenTok.js API of Parley's browser SDK (window.OT) and on Meet's small
// JSON API under /meet/api.

import { layoutTiles } from './layout.js';
import NetworkTest, { verdict } from '/v2/js/network-test.js';

const $ = (sel) => document.querySelector(sel);
const roomName = decodeURIComponent(location.pathname.split('/').pop() || '');
const params = new URLSearchParams(location.search);
const moderatorKeyParam = params.get('key') || '';
const store = {
  get(k) { try { return localStorage.getItem('parley.meet.' + k) || ''; } catch { return ''; } },
  set(k, v) { try { localStorage.setItem('parley.meet.' + k, v); } catch { /* private mode */ } },
};

// meet is the page's state; tests read it too.
const meet = (window.meet = {
  room: roomName,
  joined: null, // the join answer
  session: null,
  publisher: null, // the camera publisher (the preview before joining)
  screen: null, // the screen-share publisher
  connections: new Map(), // connectionId → {connection, name}
  streams: new Map(), // streamId → {stream, subscriber, tile}
  chat: [], // messages shown, by id
  recordings: [],
  locked: false,
  recording: false,
  view: 'grid', // or 'speaker'
  pinned: null, // tile id put on stage by hand
  speaker: null, // tile id of the loudest remote speaker
  mutedByModerator: false,
  audio: true, // what one's own camera stream sends
  video: true,
});

for (const el of document.querySelectorAll('.room-name')) el.textContent = roomName;
document.title = roomName + ' · Meet';

// ---------------------------------------------------------------- pre-join

let prejoinTimer = null;

async function startPreview(retried = false) {
  const old = meet.publisher;
  meet.publisher = null;
  if (old) old.destroy();
  const props = {
    insertDefaultUI: false,
    publishAudio: !$('#join-muted').checked,
    publishVideo: !$('#join-camera-off').checked,
    resolution: '640x480',
    name: $('#display-name').value.trim(),
  };
  const mic = $('#mic-select').value || store.get('mic');
  const cam = $('#camera-select').value || store.get('camera');
  if (mic) props.audioSource = mic;
  if (cam) props.videoSource = cam;
  const pub = OT.initPublisher(null, props, (err) => {
    if (!err) return;
    if (!retried && (props.audioSource || props.videoSource)) {
      // A remembered device may be gone: try the defaults.
      store.set('mic', '');
      store.set('camera', '');
      $('#mic-select').replaceChildren();
      $('#camera-select').replaceChildren();
      startPreview(true);
      return;
    }
    $('#prejoin-error').textContent = 'Camera or microphone unavailable: ' + err.message;
  });
  meet.publisher = pub;
  pub.on('videoElementCreated', (e) => {
    if (meet.publisher !== pub || meet.session) return;
    $('#preview').replaceChildren(e.element);
  });
  pub.on('audioLevelUpdated', (e) => {
    $('#mic-level').value = e.audioLevel;
  });
  pub.on('accessAllowed', () => fillDevices());
  pub.on('muteForced', onOwnMuteForced);
  $('#preview-off').hidden = props.publishVideo;
}

// onOwnMuteForced: a moderator turned one's microphone off.
function onOwnMuteForced() {
  meet.mutedByModerator = true;
  meet.audio = false;
  updateOwnButtons();
  toast('A moderator muted your microphone.');
}

async function fillDevices() {
  let devices = [];
  try {
    devices = await OT.getDevices();
  } catch {
    return;
  }
  for (const [kind, sel, key] of [['audioInput', '#mic-select', 'mic'], ['videoInput', '#camera-select', 'camera']]) {
    const el = $(sel);
    const current = el.value || store.get(key);
    el.replaceChildren(
      ...devices.filter((d) => d.kind === kind).map((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || (kind === 'audioInput' ? 'Microphone ' : 'Camera ') + (i + 1);
        return o;
      }),
    );
    if ([...el.options].some((o) => o.value === current)) el.value = current;
  }
}

function setupPrejoin() {
  $('#display-name').value = store.get('name');
  $('#join-muted').checked = store.get('muted') === '1';
  $('#join-camera-off').checked = store.get('cameraOff') === '1';
  $('#mic-select').addEventListener('change', () => { store.set('mic', $('#mic-select').value); startPreview(); });
  $('#camera-select').addEventListener('change', () => { store.set('camera', $('#camera-select').value); startPreview(); });
  $('#join-muted').addEventListener('change', () => {
    store.set('muted', $('#join-muted').checked ? '1' : '');
    meet.publisher?.publishAudio(!$('#join-muted').checked);
  });
  $('#join-camera-off').addEventListener('change', () => {
    const off = $('#join-camera-off').checked;
    store.set('cameraOff', off ? '1' : '');
    meet.publisher?.publishVideo(!off);
    $('#preview-off').hidden = !off;
  });
  $('#join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    join();
  });
  startPreview();
  setupNetworkTest();
}

// The pre-call network test: connectivity, then quality, with a plain
// verdict. The module is served beside the SDK.
let networkTest = null;
function setupNetworkTest() {
  $('#nettest').hidden = false;
  $('#nettest-run').addEventListener('click', () => (networkTest ? stopNetworkTest() : runNetworkTest()));
}

function stopNetworkTest() {
  networkTest?.stop();
}

async function runNetworkTest() {
  const status = $('#nettest-status');
  const button = $('#nettest-run');
  const results = $('#nettest-results');
  results.hidden = true;
  meet.networkTest = { state: 'running' };
  button.textContent = 'Stop the test';
  button.setAttribute('aria-label', 'Stop the connection test');
  try {
    const creds = await fetch('/meet/api/precall', { method: 'POST' }).then((r) => {
      if (!r.ok) throw new Error('the server answered ' + r.status);
      return r.json();
    });
    const opts = { timeout: 15000 };
    if ($('#mic-select').value) opts.audioSource = $('#mic-select').value;
    if ($('#camera-select').value) opts.videoSource = $('#camera-select').value;
    networkTest = new NetworkTest(OT, creds, opts);
    status.textContent = 'Checking connectivity…';
    const connectivity = await networkTest.testConnectivity();
    if (!connectivity.success) {
      const what = [...new Set(connectivity.failedTests.map((f) => f.type))].join(', ');
      status.textContent = 'Connection problem (' + what + '). You may not be able to join.';
      meet.networkTest = { state: 'done', connectivity };
      return;
    }
    status.textContent = 'Connected. Measuring quality…';
    let seconds = 0;
    const quality = await networkTest.testQuality(() => {
      seconds++;
      status.textContent = 'Connected. Measuring quality… ' + seconds + ' s';
    });
    const mos = quality.video.supported ? Math.min(quality.audio.mos, quality.video.mos) : quality.audio.mos;
    const word = verdict(mos);
    let text = word + ' connection';
    if (!quality.audio.supported) text = 'Poor connection: audio and video may fail.';
    else if (!quality.video.supported) {
      text = word + ' connection for audio; video is not recommended.';
      $('#join-camera-off').checked = true;
      $('#join-camera-off').dispatchEvent(new Event('change'));
    }
    status.textContent = text;
    const rows = [
      ['Audio', kbps(quality.audio.bitrate) + ', ' + pct(quality.audio.packetLossRatio) + ' loss, MOS ' + quality.audio.mos.toFixed(1)],
      ['Video', quality.video.supported ? kbps(quality.video.bitrate) + ', ' + pct(quality.video.packetLossRatio) + ' loss, MOS ' + quality.video.mos.toFixed(1) : 'not supported'],
      ['Best video', quality.video.recommendedResolution ? quality.video.recommendedResolution + ' at ' + quality.video.recommendedFrameRate + ' fps' : '—'],
    ];
    results.replaceChildren(
      ...rows.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        return [dt, dd];
      }),
    );
    results.hidden = false;
    meet.networkTest = { state: 'done', connectivity, quality, verdict: word };
  } catch (err) {
    status.textContent = err && err.name === 'NetworkTestStoppedError' ? 'Test stopped.' : 'The test failed: ' + (err && err.message);
    meet.networkTest = { state: 'failed', error: String(err && err.message) };
  } finally {
    networkTest = null;
    button.textContent = 'Test my connection';
    button.setAttribute('aria-label', 'Test my connection');
  }
}

const kbps = (bps) => Math.round(bps / 1000) + ' kbps';
const pct = (r) => (r * 100).toFixed(1) + ' %';

// ----------------------------------------------------------------- joining

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (meet.joined) headers.Authorization = 'Bearer ' + meet.joined.ticket;
  const resp = await fetch('/meet/api/rooms/' + encodeURIComponent(roomName) + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    const err = new Error((data && data.message) || 'The server answered ' + resp.status);
    err.status = resp.status;
    throw err;
  }
  return data;
}

async function join() {
  stopNetworkTest();
  const name = $('#display-name').value.trim();
  const error = $('#prejoin-error');
  error.textContent = '';
  if (!name) {
    error.textContent = 'Please enter your name.';
    $('#display-name').focus();
    return;
  }
  store.set('name', name);
  $('#join-button').disabled = true;
  let joined;
  try {
    joined = await api('POST', '/join', { name, key: moderatorKeyParam });
  } catch (err) {
    error.textContent = err.message;
    $('#join-button').disabled = false;
    return;
  }
  meet.joined = joined;
  meet.locked = joined.locked;
  const session = OT.initSession(joined.apiKey, joined.sessionId);
  meet.session = session;
  wireSession(session);
  session.connect(joined.token, (err) => {
    if (err) {
      meet.session = null;
      meet.joined = null;
      error.textContent = 'Could not connect: ' + err.message;
      $('#join-button').disabled = false;
      return;
    }
    enterRoom();
  });
}

function enterRoom() {
  const { joined, session } = meet;
  $('#prejoin').hidden = true;
  $('#left').hidden = true;
  $('#room').hidden = false;
  $('#room').classList.toggle('moderator', joined.moderator);
  for (const m of joined.history) addChat(m, false);
  // Others' connections arrive as connectionCreated events; one's own is
  // session.connection.
  if (session.connection) meet.connections.set(session.connection.connectionId, { connection: session.connection, name: parseName(session.connection) });
  updateLock();
  $('#invite-link').value = location.origin + '/room/' + roomName;

  // The preview becomes the published camera.
  let pub = meet.publisher;
  if (!pub) {
    pub = OT.initPublisher(null, { insertDefaultUI: false, name: $('#display-name').value.trim() });
    pub.on('muteForced', onOwnMuteForced);
  }
  meet.publisher = pub;
  const tile = makeTile('own-camera', $('#display-name').value.trim() + ' (you)', true);
  tile.classList.add('mirror', 'own');
  const video = $('#preview video');
  if (video) attachVideo(tile, video);
  pub.on('videoElementCreated', (e) => attachVideo(tile, e.element));
  // The level meter is the pre-join screen's; without a listener the SDK
  // stops measuring.
  pub.off('audioLevelUpdated');
  meet.ownTile = tile;
  meet.audio = !$('#join-muted').checked;
  meet.video = !$('#join-camera-off').checked;
  session.publish(pub, (err) => {
    if (err) toast('Could not publish your camera: ' + err.message);
  });
  updateOwnButtons();
  refreshRecordings();
  renderPeople();
  layout();
  $('#mic-button').focus();
}

// ------------------------------------------------------------------- tiles

function makeTile(id, label, own = false) {
  let tile = document.getElementById('tile-' + id);
  if (tile) return tile;
  tile = document.createElement('div');
  tile.className = 'tile';
  tile.id = 'tile-' + id;
  tile.dataset.id = id;
  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  avatar.setAttribute('aria-hidden', 'true');
  avatar.textContent = initials(label);
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = label;
  const mic = document.createElement('span');
  mic.className = 'mic-off';
  mic.textContent = 'Muted';
  mic.setAttribute('role', 'img');
  mic.setAttribute('aria-label', label + ': microphone off');
  const pin = document.createElement('button');
  pin.type = 'button';
  pin.className = 'pin';
  pin.textContent = 'Pin';
  pin.setAttribute('aria-label', 'Put ' + label + ' on stage');
  pin.addEventListener('click', () => {
    meet.pinned = meet.pinned === id ? null : id;
    layout();
  });
  tile.append(avatar, name, mic, pin);
  tile.setAttribute('role', 'group');
  tile.setAttribute('aria-label', label);
  if (own) tile.dataset.own = '1';
  $('#tiles').append(tile);
  return tile;
}

function attachVideo(tile, video) {
  if (!video || video.parentNode === tile) return;
  video.setAttribute('aria-hidden', 'true');
  tile.querySelector('video')?.remove();
  tile.prepend(video);
  video.play?.().catch(() => {});
}

function removeTile(id) {
  document.getElementById('tile-' + id)?.remove();
  if (meet.pinned === id) meet.pinned = null;
  if (meet.speaker === id) meet.speaker = null;
  layout();
}

function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0].toUpperCase()).join('') || '?';
}

// layout puts one tile on stage (a shared screen, a pinned tile, or in
// speaker view the loudest speaker) and lays out the rest as a grid.
function layout() {
  const area = $('#stage-area');
  const stage = $('#stage');
  const screens = [...document.querySelectorAll('.tile.screen')];
  let staged = null;
  if (meet.pinned) staged = document.getElementById('tile-' + meet.pinned);
  if (!staged && screens.length) staged = screens[screens.length - 1];
  if (!staged && meet.view === 'speaker') {
    staged = (meet.speaker && document.getElementById('tile-' + meet.speaker)) || document.querySelector('#tiles .tile:not(.own), #stage .tile:not(.own)');
  }
  // Moving a tile drops the focus inside it (its Pin button): put it back.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('.tile') ? document.activeElement : null;
  for (const t of [...stage.children]) if (t !== staged) $('#tiles').append(t);
  if (staged && staged.parentNode !== stage) stage.append(staged);
  if (focused && document.activeElement !== focused) focused.focus();
  area.classList.toggle('staged', !!staged);
  for (const t of document.querySelectorAll('.tile')) {
    t.classList.toggle('pinned', t.dataset.id === meet.pinned);
    t.querySelector('.pin').textContent = t.dataset.id === meet.pinned ? 'Unpin' : 'Pin';
  }
  layoutTiles($('#tiles'));
  updateCount();
}
new ResizeObserver(() => layout()).observe(document.getElementById('tiles'));

// ----------------------------------------------------------------- session

function parseName(connection) {
  try {
    const d = JSON.parse(connection.data || '{}');
    if (typeof d.name === 'string' && d.name) return d.name;
  } catch { /* not JSON */ }
  return 'Guest';
}

function wireSession(session) {
  session.on('connectionCreated', (e) => {
    meet.connections.set(e.connection.connectionId, { connection: e.connection, name: parseName(e.connection) });
    renderPeople();
  });
  session.on('connectionDestroyed', (e) => {
    meet.connections.delete(e.connection.connectionId);
    renderPeople();
  });
  session.on('streamCreated', (e) => addStream(e.stream));
  session.on('streamDestroyed', (e) => {
    const s = meet.streams.get(e.stream.streamId);
    meet.streams.delete(e.stream.streamId);
    if (s) removeTile(s.id);
    renderPeople();
  });
  session.on('streamPropertyChanged', (e) => {
    const s = meet.streams.get(e.stream.streamId);
    if (s) updateStreamTile(s);
    renderPeople();
  });
  session.on('signal:chat', (e) => {
    try { addChat(JSON.parse(e.data), true); } catch { /* malformed */ }
  });
  session.on('signal:room', (e) => {
    try { meet.locked = !!JSON.parse(e.data).locked; } catch { return; }
    updateLock();
    toast(meet.locked ? 'The room is locked.' : 'The room is unlocked.');
  });
  session.on('signal:recordings', () => refreshRecordings());
  session.on('archiveStarted', () => {
    meet.recording = true;
    updateRecording();
    refreshRecordings();
  });
  session.on('archiveStopped', () => {
    meet.recording = false;
    updateRecording();
    refreshRecordings();
  });
  session.on('sessionDisconnected', (e) => leftRoom(e.reason));
}

function addStream(stream) {
  const id = 'stream-' + stream.streamId;
  const screen = stream.videoType === 'screen';
  const label = screen ? (stream.name || parseName(stream.connection)) : parseName(stream.connection);
  const tile = makeTile(id, label);
  tile.dataset.streamId = stream.streamId;
  tile.dataset.connectionId = stream.connection.connectionId;
  tile.classList.toggle('screen', screen);
  const entry = { id, stream, tile, level: 0 };
  meet.streams.set(stream.streamId, entry);
  const sub = meet.session.subscribe(stream, null, { insertDefaultUI: false, preferredResolution: 'auto' }, (err) => {
    if (err) toast('Could not show ' + label + ': ' + err.message);
  });
  entry.subscriber = sub;
  if (sub) {
    sub.on('videoElementCreated', (e) => attachVideo(tile, e.element));
    if (!screen) {
      sub.on('audioLevelUpdated', (e) => {
        entry.level = entry.level * 0.7 + e.audioLevel * 0.3;
      });
    }
  }
  updateStreamTile(entry);
  renderPeople();
  if (screen) {
    meet.pinned = null;
    toast(label + ' is sharing a screen.');
  }
  layout();
}

function updateStreamTile(entry) {
  entry.tile.classList.toggle('audio-off', !entry.stream.hasAudio && entry.stream.videoType !== 'screen');
  entry.tile.classList.toggle('video-off', !entry.stream.hasVideo);
}

// The speaker is the remote camera with the loudest recent audio.
const speakerTimer = setInterval(() => {
  if (!meet.session) return;
  let best = null;
  for (const s of meet.streams.values()) if (s.level > 0.05 && (!best || s.level > best.level)) best = s;
  const id = best ? best.id : meet.speaker;
  for (const t of document.querySelectorAll('.tile')) t.classList.toggle('speaking', !!best && t.dataset.id === best.id);
  if (id !== meet.speaker) {
    meet.speaker = id;
    if (meet.view === 'speaker') layout();
  }
}, 1000);

function updateCount() {
  const n = meet.connections.size || (meet.session ? 1 : 0);
  $('#count').textContent = n === 1 ? '1 participant' : n + ' participants';
}

function renderPeople() {
  const list = $('#people');
  const own = meet.session && meet.session.connection && meet.session.connection.connectionId;
  const items = [...meet.connections.values()].map(({ connection, name }) => {
    const li = document.createElement('li');
    li.dataset.connectionId = connection.connectionId;
    const who = document.createElement('span');
    who.textContent = name + (connection.connectionId === own ? ' (you)' : '');
    const state = document.createElement('span');
    state.className = 'state';
    let cam = null;
    if (connection.connectionId === own) {
      cam = meet.publisher && meet.publisher.stream;
    } else {
      for (const s of meet.streams.values()) if (s.stream.connection.connectionId === connection.connectionId && s.stream.videoType !== 'screen') cam = s.stream;
    }
    state.textContent = !cam ? 'not publishing' : cam.hasAudio ? 'mic on' : 'muted';
    li.append(who, state);
    return li;
  });
  list.replaceChildren(...items);
  updateCount();
}

// -------------------------------------------------------- own controls

function updateOwnButtons() {
  const { audio, video } = meet;
  setToggle('#mic-button', audio, 'Turn microphone off', 'Turn microphone on');
  setToggle('#camera-button', video, 'Turn camera off', 'Turn camera on');
  const sharing = !!meet.screen;
  $('#screen-button').setAttribute('aria-pressed', String(sharing));
  $('#screen-button').classList.toggle('on', sharing);
  $('#screen-button').setAttribute('aria-label', sharing ? 'Stop sharing your screen' : 'Share your screen');
  if (meet.ownTile) {
    meet.ownTile.classList.toggle('audio-off', !audio);
    meet.ownTile.classList.toggle('video-off', !video);
  }
  renderPeople();
}

function setToggle(sel, on, onLabel, offLabel) {
  const b = $(sel);
  b.setAttribute('aria-pressed', String(on));
  b.classList.toggle('off', !on);
  b.setAttribute('aria-label', on ? onLabel : offLabel);
}

$('#mic-button').addEventListener('click', () => {
  if (!meet.publisher) return;
  meet.audio = !meet.audio;
  meet.publisher.publishAudio(meet.audio);
  if (meet.audio) meet.mutedByModerator = false;
  updateOwnButtons();
});
$('#camera-button').addEventListener('click', () => {
  if (!meet.publisher) return;
  meet.video = !meet.video;
  meet.publisher.publishVideo(meet.video);
  updateOwnButtons();
});
$('#screen-button').addEventListener('click', () => (meet.screen ? stopScreen() : startScreen()));
$('#view-button').addEventListener('click', () => {
  meet.view = meet.view === 'grid' ? 'speaker' : 'grid';
  const b = $('#view-button');
  b.setAttribute('aria-pressed', String(meet.view === 'speaker'));
  b.setAttribute('aria-label', meet.view === 'speaker' ? 'Switch to grid view' : 'Switch to speaker view');
  layout();
});

function startScreen() {
  const name = $('#display-name').value.trim() + "'s screen";
  const pub = OT.initPublisher(null, { insertDefaultUI: false, videoSource: 'screen', publishAudio: false, audioSource: null, name, mirror: false }, (err) => {
    if (err) {
      toast('Screen sharing did not start: ' + err.message);
      if (meet.screen === pub) meet.screen = null;
      updateOwnButtons();
    }
  });
  meet.screen = pub;
  const tile = makeTile('own-screen', 'Your screen', true);
  tile.classList.add('screen', 'own');
  pub.on('videoElementCreated', (e) => {
    attachVideo(tile, e.element);
    layout();
  });
  pub.on('mediaStopped', () => stopScreen());
  pub.on('streamDestroyed', () => stopScreen());
  meet.session.publish(pub);
  meet.pinned = null;
  updateOwnButtons();
  layout();
}

function stopScreen() {
  const pub = meet.screen;
  if (!pub) return;
  meet.screen = null;
  try { meet.session && meet.session.unpublish(pub); } catch { /* gone */ }
  pub.destroy();
  removeTile('own-screen');
  updateOwnButtons();
}

// -------------------------------------------------------------- panels

const panels = { chat: ['#chat-panel', 'Chat'], people: ['#people-panel', 'People'], recordings: ['#recordings-panel', 'Recordings'] };
let openPanel = null;
function showPanel(name) {
  openPanel = openPanel === name ? null : name;
  $('#panel').hidden = !openPanel;
  for (const [k, [sel]] of Object.entries(panels)) $(sel).hidden = k !== openPanel;
  for (const k of Object.keys(panels)) $('#' + k + '-button').setAttribute('aria-expanded', String(k === openPanel));
  if (openPanel) {
    $('#panel-title').textContent = panels[openPanel][1];
    if (openPanel === 'chat') {
      $('#unread').hidden = true;
      $('#unread').textContent = '';
      $('#chat-input').focus();
    } else {
      $('#panel-close').focus();
    }
    if (openPanel === 'recordings') refreshRecordings();
  }
  layout();
}
$('#chat-button').addEventListener('click', () => showPanel('chat'));
$('#people-button').addEventListener('click', () => showPanel('people'));
$('#recordings-button').addEventListener('click', () => showPanel('recordings'));
$('#panel-close').addEventListener('click', () => {
  const was = openPanel;
  showPanel(openPanel);
  if (was) $('#' + was + '-button').focus();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && openPanel) $('#panel-close').click();
});

// ---------------------------------------------------------------- chat

function addChat(m, live) {
  if (!m || typeof m.id !== 'number' || meet.chat.some((x) => x.id === m.id)) return;
  meet.chat.push(m);
  const li = document.createElement('li');
  li.dataset.id = String(m.id);
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = String(m.from);
  const at = document.createElement('time');
  const when = new Date(m.at);
  at.dateTime = when.toISOString();
  at.textContent = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  from.append(at);
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = String(m.text);
  li.append(from, text);
  const log = $('#chat-log');
  log.append(li);
  log.scrollTop = log.scrollHeight;
  if (live && openPanel !== 'chat') {
    const u = $('#unread');
    u.hidden = false;
    u.textContent = String((Number(u.textContent) || 0) + 1);
  }
}

$('#chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim();
  if (!text) return;
  input.disabled = true;
  try {
    addChat(await api('POST', '/chat', { text }), false);
    input.value = '';
  } catch (err) {
    toast('Message not sent: ' + err.message);
  } finally {
    input.disabled = false;
    input.focus();
  }
});
$('#chat-input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('#chat-form').requestSubmit();
  }
});

// ------------------------------------------------------------ recordings

let recordingPoll = null;
async function refreshRecordings() {
  if (!meet.joined) return;
  let items;
  try {
    items = (await api('GET', '/recordings')).items;
  } catch (err) {
    $('#rec-error').textContent = err.message;
    return;
  }
  meet.recordings = items;
  meet.recording = items.some((r) => r.status === 'started');
  updateRecording();
  renderRecordings();
  // Recordings being finished change state without an event: look again.
  clearTimeout(recordingPoll);
  if (meet.session && items.some((r) => r.status === 'started' || r.status === 'stopped')) {
    recordingPoll = setTimeout(refreshRecordings, 2000);
  }
}

let renderedRecordings = '';
function renderRecordings() {
  const list = $('#recordings');
  $('#no-recordings').hidden = meet.recordings.length > 0;
  // Redraw only on a change, and keep the keyboard focus where it was.
  const key = JSON.stringify(meet.recordings.map((r) => [r.id, r.status, r.duration, !!r.url]));
  if (key === renderedRecordings) return;
  renderedRecordings = key;
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedAt = focused && [focused.closest('li').dataset.id, focused.className];
  list.replaceChildren(
    ...meet.recordings.map((r) => {
      const li = document.createElement('li');
      li.dataset.id = r.id;
      li.dataset.status = r.status;
      const name = document.createElement('span');
      name.className = 'rec-name';
      name.textContent = r.name || 'Recording';
      const status = document.createElement('span');
      status.className = 'status';
      const words = { started: 'recording…', stopped: 'finishing…', available: 'ready', uploaded: 'uploaded', failed: 'failed' };
      status.textContent = (words[r.status] || r.status) + (r.duration ? ' · ' + fmtDuration(r.duration) : '') + ' · ' + r.outputMode;
      li.append(name, status);
      if (r.url) {
        if (r.outputMode === 'composed') {
          const play = document.createElement('button');
          play.type = 'button';
          play.className = 'play';
          play.textContent = 'Play';
          play.setAttribute('aria-label', 'Play ' + name.textContent);
          play.addEventListener('click', () => {
            $('#player-wrap').hidden = false;
            $('#player').src = r.url;
            $('#player').play().catch(() => {});
          });
          li.append(play);
        }
        const dl = document.createElement('a');
        dl.className = 'download';
        dl.href = r.url;
        dl.download = '';
        dl.textContent = 'Download';
        dl.setAttribute('aria-label', 'Download ' + name.textContent);
        li.append(dl);
      }
      if (meet.joined.moderator && r.status !== 'started') {
        const del = document.createElement('button');
        del.type = 'button';
        del.className = 'delete';
        del.textContent = 'Delete';
        del.setAttribute('aria-label', 'Delete ' + name.textContent);
        del.addEventListener('click', async () => {
          if (!confirm('Delete the recording "' + name.textContent + '"?')) return;
          try {
            await api('DELETE', '/recordings/' + encodeURIComponent(r.id));
          } catch (err) {
            $('#rec-error').textContent = err.message;
          }
          refreshRecordings();
        });
        li.append(del);
      }
      return li;
    }),
  );
  if (focusedAt) {
    const li = [...list.children].find((el) => el.dataset.id === focusedAt[0]);
    const again = li && [...li.children].find((el) => el.className === focusedAt[1]);
    (again || list).focus?.();
  }
}

function fmtDuration(s) {
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function updateRecording() {
  $('#recording-badge').hidden = !meet.recording;
  const b = $('#rec-toggle');
  b.textContent = meet.recording ? 'Stop recording' : 'Start recording';
  b.setAttribute('aria-label', meet.recording ? 'Stop recording' : 'Start recording');
  $('#rec-mode').disabled = meet.recording;
}

$('#rec-toggle').addEventListener('click', async () => {
  $('#rec-error').textContent = '';
  const b = $('#rec-toggle');
  b.disabled = true;
  try {
    if (meet.recording) {
      const cur = meet.recordings.find((r) => r.status === 'started');
      if (cur) await api('POST', '/recordings/' + encodeURIComponent(cur.id) + '/stop', {});
    } else {
      await api('POST', '/recordings', { outputMode: $('#rec-mode').value });
    }
  } catch (err) {
    $('#rec-error').textContent = err.message;
  } finally {
    b.disabled = false;
  }
  refreshRecordings();
});
$('#player-close').addEventListener('click', () => {
  $('#player').pause();
  $('#player').removeAttribute('src');
  $('#player-wrap').hidden = true;
});

// ------------------------------------------------------------ moderation

function updateLock() {
  $('#locked-badge').hidden = !meet.locked;
  const b = $('#lock-button');
  b.setAttribute('aria-pressed', String(meet.locked));
  b.classList.toggle('on', meet.locked);
  b.setAttribute('aria-label', meet.locked ? 'Unlock the room' : 'Lock the room');
  b.querySelector('.label').textContent = meet.locked ? 'Unlock' : 'Lock';
}

$('#lock-button').addEventListener('click', async () => {
  try {
    meet.locked = (await api('POST', '/lock', { locked: !meet.locked })).locked;
    updateLock();
  } catch (err) {
    toast(err.message);
  }
});

$('#mute-all-button').addEventListener('click', async () => {
  const own = [meet.publisher, meet.screen].filter((p) => p && p.stream).map((p) => p.stream);
  try {
    await meet.session.forceMuteAll(own);
    toast('Everyone else is muted.');
  } catch (err) {
    toast('Could not mute everyone: ' + err.message);
  }
});

$('#end-button').addEventListener('click', async () => {
  if (!confirm('End the call for everyone?')) return;
  const own = meet.session.connection.connectionId;
  await Promise.allSettled(
    [...meet.connections.values()]
      .filter(({ connection }) => connection.connectionId !== own)
      .map(({ connection }) => new Promise((resolve) => meet.session.forceDisconnect(connection, resolve))),
  );
  meet.session.disconnect();
});

$('#leave-button').addEventListener('click', () => meet.session && meet.session.disconnect());

$('#copy-invite').addEventListener('click', () => copy(location.origin + '/room/' + roomName, 'Invite link copied.'));
$('#copy-moderator').addEventListener('click', () =>
  copy(location.origin + '/room/' + roomName + '?key=' + encodeURIComponent(meet.joined.moderatorKey || ''), 'Moderator link copied.'),
);

async function copy(text, done) {
  const input = $('#invite-link');
  input.value = text;
  try {
    await navigator.clipboard.writeText(text);
    toast(done);
  } catch {
    input.select();
    toast('Select and copy the link below.');
  }
}

let toastTimer = null;
function toast(msg) {
  const t = $('#toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

// leftRoom tears the room down: every timer, tile and publisher.
function leftRoom(reason) {
  clearTimeout(recordingPoll);
  stopScreen();
  meet.publisher?.destroy();
  meet.publisher = null;
  meet.session = null;
  meet.joined = null;
  meet.connections.clear();
  meet.streams.clear();
  meet.chat = [];
  meet.recordings = [];
  renderedRecordings = '';
  $('#recordings').replaceChildren();
  $('#chat-log').replaceChildren();
  $('#tiles').replaceChildren();
  $('#stage').replaceChildren();
  $('#room').hidden = true;
  $('#left').hidden = false;
  $('#left-text').textContent = reason === 'forceDisconnected' ? 'A moderator ended the call.' : reason === 'networkDisconnected' ? 'The connection was lost.' : '';
  $('#rejoin').focus();
}
$('#rejoin').addEventListener('click', () => {
  $('#left').hidden = true;
  $('#prejoin').hidden = false;
  $('#join-button').disabled = false;
  startPreview();
});
window.addEventListener('pagehide', () => {
  clearInterval(speakerTimer);
  meet.session?.disconnect();
});

setupPrejoin();
