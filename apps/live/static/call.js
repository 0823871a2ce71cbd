// 1:1 calls and random pairing. The page sits in the app's lobby session
// (subscribe-only), where the server reaches it with "call" signals; a
// call is a two-person routed session of its own.
import { $, api, nav } from './common.js';


const C = (window.calls = {
  presence: 'connecting', // online, offline
  lobby: null,
  outgoing: null, // the call we ring
  incoming: null, // the call ringing us
  call: null, // the call we are in
  session: null,
  publisher: null,
  remote: null, // the other person's subscriber
  waiting: false,
  events: [], // call events received, for the page's tests
  online: [],
  ringMs: 30000, // how long an invitation rings
});
let ringTimer = null;

const say = (m) => { $('#message').textContent = m; };
const fail = (m) => { $('#error').textContent = m; };

function setPresence(p) {
  C.presence = p;
  $('#presence').textContent = p === 'online' ? 'online: others can call you' : p;
}

async function enterLobby() {
  const j = await api('POST', '/live/api/lobby');
  const s = OT.initSession(j.apiKey, j.sessionId);
  C.lobby = s;
  s.on('signal:lobby-check', async (e) => {
    try {
      await api('POST', '/live/api/lobby/confirm', { code: e.data });
      setPresence('online');
      refreshOnline();
    } catch (err) {
      fail(err.message);
    }
  });
  s.on('signal:call', (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    C.events.push(ev);
    onCallEvent(ev);
  });
  s.on('sessionDisconnected', () => setPresence('offline'));
  s.connect(j.token, async (err) => {
    if (err) {
      fail('Could not go online: ' + err.message);
      setPresence('offline');
      return;
    }
    try {
      await api('POST', '/live/api/lobby/register', { connectionId: s.connection.connectionId });
    } catch (e2) {
      fail(e2.message);
    }
  });
}

async function refreshOnline() {
  try {
    const { users } = await api('GET', '/live/api/online');
    // Rebuild only when the list changed, so that keyboard focus stays.
    if (users.join('\n') === C.online.join('\n') && $('#online').children.length === users.length) return;
    C.online = users;
    $('#online').replaceChildren(...users.map((name) => {
      const li = document.createElement('li');
      li.dataset.name = name;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'call-user';
      b.textContent = 'Call ' + name;
      b.addEventListener('click', () => call(name));
      li.append(b);
      return li;
    }));
    $('#online-names').replaceChildren(...users.map((n) => { const o = document.createElement('option'); o.value = n; return o; }));
    $('#nobody').hidden = users.length > 0;
  } catch { /* next time */ }
}

function clearRing() {
  clearTimeout(ringTimer);
  ringTimer = null;
}

function idleControls() {
  $('#call').disabled = false;
  $('#cancel-call').hidden = true;
  $('#pair').disabled = false;
}

async function call(name) {
  fail('');
  if (C.call || C.outgoing) return;
  try {
    C.outgoing = await api('POST', '/live/api/calls', { to: name });
  } catch (err) {
    fail(err.message);
    return;
  }
  say(`Calling ${C.outgoing.peer}…`);
  $('#call').disabled = true;
  $('#cancel-call').hidden = false;
  $('#cancel-call').focus();
  ringTimer = setTimeout(() => callOff('timeout'), C.ringMs);
}

async function callOff(reason) {
  clearRing();
  const c = C.outgoing;
  C.outgoing = null;
  idleControls();
  if (!c) return;
  try { await api('POST', `/live/api/calls/${c.id}/cancel`, { reason }); } catch { /* answered meanwhile */ }
  say(reason === 'timeout' ? `No answer from ${c.peer}.` : `You called off the call to ${c.peer}.`);
}

function onCallEvent(ev) {
  switch (ev.event) {
    case 'ringing':
      if (C.call || C.incoming) return; // busy: it rings out
      C.incoming = ev;
      $('#incoming-text').textContent = `Call from ${ev.peer}. Accept?`;
      $('#incoming').hidden = false;
      $('#accept').focus();
      ringTimer = setTimeout(() => {
        if (C.incoming && C.incoming.id === ev.id) dismissIncoming(`Missed call from ${ev.peer}.`);
      }, C.ringMs);
      break;
    case 'accepted':
      if (!C.outgoing || C.outgoing.id !== ev.id) return;
      clearRing();
      C.outgoing = null;
      idleControls();
      join(ev.id);
      break;
    case 'rejected':
      if (!C.outgoing || C.outgoing.id !== ev.id) return;
      clearRing();
      C.outgoing = null;
      idleControls();
      say(`${ev.peer} declined the call.`);
      break;
    case 'timeout':
    case 'cancelled':
      if (C.incoming && C.incoming.id === ev.id) {
        dismissIncoming(ev.event === 'timeout' ? `Missed call from ${ev.peer}.` : `${ev.peer} called off the call.`);
      } else if (C.outgoing && C.outgoing.id === ev.id) {
        clearRing();
        C.outgoing = null;
        idleControls();
        say(`No answer from ${ev.peer}.`);
      }
      break;
    case 'hungup':
      if (C.call && C.call.id === ev.id) {
        leaveCall();
        say(ev.paired ? `${ev.peer} moved on.` : `${ev.peer} hung up.`);
      }
      break;
    case 'paired':
      if (C.call) return;
      C.waiting = false;
      $('#unpair').hidden = true;
      join(ev.id);
      break;
  }
}

function dismissIncoming(msg) {
  clearRing();
  C.incoming = null;
  $('#incoming').hidden = true;
  say(msg);
}

async function answer(accept) {
  const c = C.incoming;
  if (!c) return;
  clearRing();
  C.incoming = null;
  $('#incoming').hidden = true;
  try {
    if (accept) {
      enterCall(await api('POST', `/live/api/calls/${c.id}/accept`));
    } else {
      await api('POST', `/live/api/calls/${c.id}/reject`);
      say(`You declined the call from ${c.peer}.`);
    }
  } catch (err) {
    fail(err.message);
  }
}

async function join(id) {
  try {
    enterCall(await api('POST', `/live/api/calls/${id}/join`));
  } catch (err) {
    fail(err.message);
  }
}

function enterCall(j) {
  C.call = j.call;
  say(`In a call with ${j.call.peer}.`);
  $('#call-title').textContent = `In a call with ${j.call.peer}`;
  $('#in-call').hidden = false;
  $('#lobby').hidden = true;
  $('#next').hidden = !j.call.paired;
  const s = OT.initSession(j.apiKey, j.sessionId);
  C.session = s;
  s.on('streamCreated', (e) => {
    const sub = s.subscribe(e.stream, null, { insertDefaultUI: false }, (err) => {
      if (err) fail('Could not see the other person: ' + err.message);
    });
    C.remote = sub;
    sub.on('videoElementCreated', (ev) => {
      ev.element.setAttribute('aria-label', e.stream.name || 'The other person');
      $('#remote').replaceChildren(ev.element);
    });
  });
  s.connect(j.token, (err) => {
    if (err) {
      fail('Could not join the call: ' + err.message);
      return;
    }
    const pub = OT.initPublisher(null, { insertDefaultUI: false, resolution: '640x480', name: '' }, (perr) => {
      if (perr) fail('Camera or microphone unavailable: ' + perr.message);
    });
    C.publisher = pub;
    pub.on('videoElementCreated', (ev) => {
      ev.element.muted = true;
      ev.element.setAttribute('aria-label', 'Your camera');
      $('#self').replaceChildren(ev.element);
    });
    s.publish(pub);
  });
  $('#hangup').focus();
}

function leaveCall() {
  if (C.session) {
    if (C.publisher) C.session.unpublish(C.publisher);
    C.session.disconnect();
  }
  if (C.publisher) C.publisher.destroy();
  C.session = C.publisher = C.remote = C.call = null;
  $('#remote').replaceChildren();
  $('#self').replaceChildren();
  $('#in-call').hidden = true;
  $('#lobby').hidden = false;
}

async function hangup() {
  const c = C.call;
  leaveCall();
  if (c) {
    try { await api('POST', `/live/api/calls/${c.id}/hangup`); } catch { /* over already */ }
    say(`Call with ${c.peer} ended.`);
  }
  return c;
}

async function pair() {
  fail('');
  try {
    const res = await api('POST', '/live/api/pair');
    if (res.waiting) {
      C.waiting = true;
      say('Waiting for someone…');
      $('#pair').disabled = true;
      $('#unpair').hidden = false;
      return;
    }
    enterCall(res);
  } catch (err) {
    fail(err.message);
  }
}

$('#call-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('#callee').value.trim();
  if (!name) {
    fail('Type the name of the person to call.');
    $('#callee').focus();
    return;
  }
  call(name);
});
$('#cancel-call').addEventListener('click', () => callOff('cancelled'));
$('#accept').addEventListener('click', () => answer(true));
$('#reject').addEventListener('click', () => answer(false));
$('#hangup').addEventListener('click', hangup);
$('#next').addEventListener('click', async () => {
  await hangup();
  pair();
});
$('#pair').addEventListener('click', pair);
$('#unpair').addEventListener('click', async () => {
  await api('POST', '/live/api/pair/cancel');
  C.waiting = false;
  $('#unpair').hidden = true;
  $('#pair').disabled = false;
  say('You stopped waiting.');
});

nav('/live/call');
enterLobby().catch((err) => fail(err.message));
setInterval(refreshOnline, 3000);
