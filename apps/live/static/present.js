// The presenter's page: start a show, publish the camera, watch one's own
// stream as it comes back through the media router, see viewers come and
// go, stop the show.
import { $, api, nav, clock, parseData } from './common.js';

const P = (window.presenter = {
  status: 'not started', // preparing, live, ending, ended
  show: null,
  session: null,
  publisher: null,
  preview: null,
  viewers: new Map(), // connectionId → name
  notices: [], // {kind, name, at}
});

function setStatus(s) {
  P.status = s;
  $('#status').textContent = s;
}

function showError(msg) {
  $('#error').textContent = msg;
}

function notice(kind, name) {
  const at = Date.now();
  P.notices.push({ kind, name, at });
  const li = document.createElement('li');
  li.dataset.kind = kind;
  const t = document.createElement('time');
  t.dateTime = new Date(at).toISOString();
  t.textContent = clock(at);
  const text = { join: `${name} joined`, leave: `${name} left`, start: 'The show started', stop: 'The show ended' }[kind];
  li.append(t, text);
  $('#notices').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

function updateCount() {
  const n = P.viewers.size;
  $('#viewer-count').textContent = n === 1 ? '1 viewer' : `${n} viewers`;
}

function connect(joined) {
  const session = OT.initSession(joined.apiKey, joined.sessionId);
  P.session = session;
  session.on('connectionCreated', (e) => {
    if (session.connection && e.connection.connectionId === session.connection.connectionId) return;
    const d = parseData(e.connection);
    if (d.role !== 'viewer' || P.viewers.has(e.connection.connectionId)) return;
    P.viewers.set(e.connection.connectionId, d.name);
    notice('join', d.name);
    updateCount();
  });
  session.on('connectionDestroyed', (e) => {
    const name = P.viewers.get(e.connection.connectionId);
    if (name === undefined) return;
    P.viewers.delete(e.connection.connectionId);
    notice('leave', name);
    updateCount();
  });
  session.on('sessionDisconnected', () => {
    if (P.status === 'live' || P.status === 'preparing') {
      setStatus('disconnected');
      showError('The connection to the server was lost; the show will end on its own.');
      stopControls();
    }
  });
  session.connect(joined.token, (err) => {
    if (err) {
      fail('Could not connect: ' + err.message);
      return;
    }
    publish();
  });
}

function publish() {
  const pub = OT.initPublisher(null, { insertDefaultUI: false, resolution: '640x480', name: P.show.presenter }, (err) => {
    if (err) fail('Camera or microphone unavailable: ' + err.message);
  });
  P.publisher = pub;
  pub.on('streamCreated', (e) => {
    preview(e.stream);
    goLive();
  });
  P.session.publish(pub, (err) => {
    if (err) fail('Could not publish: ' + err.message);
  });
}

// preview subscribes to one's own stream: what the server delivers.
function preview(stream) {
  const sub = P.session.subscribe(stream, null, { insertDefaultUI: false, subscribeToAudio: false }, (err) => {
    if (err) showError('The preview failed: ' + err.message);
  });
  P.preview = sub;
  sub.on('videoElementCreated', (e) => {
    e.element.muted = true;
    e.element.setAttribute('aria-label', 'Your show as viewers see it');
    $('#preview').replaceChildren(e.element);
  });
}

async function goLive() {
  try {
    P.show = await api('POST', `/live/api/shows/${P.show.id}/start`);
    setStatus('live');
    notice('start', P.show.presenter);
    $('#stop').disabled = false;
    $('#stop').focus();
  } catch (err) {
    fail('Could not go on air: ' + err.message);
  }
}

function stopControls() {
  $('#stop').disabled = true;
  $('#start').disabled = false;
  $('#title').disabled = false;
}

function teardown() {
  if (P.session) {
    if (P.publisher) P.session.unpublish(P.publisher);
    P.session.disconnect();
  }
  if (P.publisher) P.publisher.destroy();
  P.session = P.publisher = P.preview = null;
  P.viewers.clear();
  updateCount();
  $('#preview').replaceChildren();
}

async function fail(msg) {
  showError(msg);
  if (P.show) {
    try { await api('POST', `/live/api/shows/${P.show.id}/stop`); } catch { /* shown already */ }
  }
  teardown();
  setStatus('not started');
  stopControls();
}

$('#show-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('');
  const title = $('#title').value.trim();
  if (!title) {
    showError('Give the show a title.');
    $('#title').focus();
    return;
  }
  $('#start').disabled = true;
  $('#title').disabled = true;
  $('#ended-link').hidden = true;
  $('#notices').replaceChildren();
  P.notices = [];
  setStatus('preparing');
  try {
    const joined = await api('POST', '/live/api/shows', { title });
    P.show = joined.show;
    connect(joined);
  } catch (err) {
    showError(err.message);
    setStatus('not started');
    stopControls();
  }
});

$('#stop').addEventListener('click', async () => {
  $('#stop').disabled = true;
  setStatus('ending');
  try {
    P.show = await api('POST', `/live/api/shows/${P.show.id}/stop`);
  } catch (err) {
    showError('Could not stop the recording: ' + err.message);
  }
  notice('stop', P.show.presenter);
  teardown();
  setStatus('ended');
  stopControls();
  $('#ended-link').hidden = false;
});

// Closing the tab ends the show too.
addEventListener('pagehide', () => {
  if (P.show && (P.status === 'live' || P.status === 'preparing')) {
    fetch(`/live/api/shows/${P.show.id}/stop`, { method: 'POST', keepalive: true, credentials: 'same-origin' });
  }
});

nav('/live/present');
