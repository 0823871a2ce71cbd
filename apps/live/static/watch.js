// A viewer's page: subscribe-only, told clearly when the show is over.
import { $, api, nav, parseData } from './common.js';

const id = decodeURIComponent(location.pathname.split('/').pop() || '');
const V = (window.viewer = { status: 'connecting', show: null, session: null, subscriber: null, video: null });

function setStatus(s) {
  V.status = s;
  $('#status').textContent = s;
}

function ended() {
  if (V.status === 'ended') return;
  setStatus('ended');
  if (V.video) V.video.remove();
  V.video = null;
  $('#ended').hidden = false;
  $('#leave').disabled = true;
  if (V.session) V.session.disconnect();
}

function isPresenter(stream) {
  return parseData(stream.connection).role === 'presenter';
}

function watch(joined) {
  const session = OT.initSession(joined.apiKey, joined.sessionId);
  V.session = session;
  session.on('streamCreated', (e) => {
    if (!isPresenter(e.stream) || V.status === 'ended') return;
    const sub = session.subscribe(e.stream, null, { insertDefaultUI: false }, (err) => {
      if (err) $('#error').textContent = 'Could not play the show: ' + err.message;
    });
    V.subscriber = sub;
    sub.on('videoElementCreated', (ev) => {
      V.video = ev.element;
      ev.element.setAttribute('aria-label', 'The show');
      $('#screen').prepend(ev.element);
    });
    setStatus('live');
  });
  session.on('streamDestroyed', (e) => {
    if (isPresenter(e.stream)) ended();
  });
  session.on('signal:show', (e) => {
    try {
      if (JSON.parse(e.data).status === 'ended') ended();
    } catch { /* not ours */ }
  });
  session.on('sessionDisconnected', () => {
    if (V.status !== 'ended' && V.status !== 'left') setStatus('disconnected');
  });
  session.connect(joined.token, (err) => {
    if (err) {
      $('#error').textContent = 'Could not connect: ' + err.message;
      setStatus('disconnected');
      return;
    }
    if (V.status === 'connecting') setStatus('waiting for the presenter');
  });
}

$('#leave').addEventListener('click', () => {
  setStatus('left');
  $('#leave').disabled = true;
  if (V.session) V.session.disconnect();
  if (V.video) V.video.remove();
});

nav('');
try {
  const joined = await api('POST', `/live/api/shows/${encodeURIComponent(id)}/watch`);
  V.show = joined.show;
  $('#title').textContent = joined.show.title;
  $('#presenter').textContent = joined.show.presenter;
  document.title = joined.show.title + ' · Live';
  watch(joined);
} catch (err) {
  if (err.status === 410) {
    $('#title').textContent = 'Show ended';
    ended();
  } else {
    $('#error').textContent = err.message;
    setStatus('unavailable');
  }
}
