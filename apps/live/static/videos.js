// The library: recorded shows, filtered and paged, played with seeking.
import { $, api, nav, when, duration } from './common.js';

const L = (window.library = { videos: [], page: 1, size: 12, total: 0, query: {} });

function query() {
  const q = {};
  const text = (sel, key) => { const v = $(sel).value.trim(); if (v) q[key] = v; };
  text('#f-presenter', 'presenter');
  text('#f-location', 'location');
  const time = (sel, key) => { const v = $(sel).value; if (v) q[key] = String(new Date(v).getTime()); };
  time('#f-from', 'from');
  time('#f-to', 'to');
  text('#f-min', 'minDuration');
  text('#f-max', 'maxDuration');
  return q;
}

async function load(page) {
  $('#error').textContent = '';
  const params = new URLSearchParams({ ...L.query, page: String(page), size: String(L.size) });
  try {
    const res = await api('GET', '/live/api/videos?' + params);
    Object.assign(L, { videos: res.videos, page: res.page, size: res.size, total: res.total });
    render();
  } catch (err) {
    $('#error').textContent = err.message;
  }
}

function render() {
  const pages = Math.max(1, Math.ceil(L.total / L.size));
  $('#summary').textContent = L.total === 1 ? '1 recording' : `${L.total} recordings`;
  $('#page-info').textContent = `Page ${L.page} of ${pages}`;
  $('#prev').disabled = L.page <= 1;
  $('#next').disabled = L.page >= pages;
  $('#videos').replaceChildren(...L.videos.map((v) => {
    const li = document.createElement('li');
    li.dataset.videoId = v.id;
    li.dataset.status = v.status;
    const h = document.createElement('h3');
    h.textContent = v.title;
    const meta = document.createElement('p');
    meta.className = 'muted';
    const t = document.createElement('time');
    t.dateTime = new Date(v.startedAt).toISOString();
    t.textContent = when(v.startedAt);
    meta.append(v.presenter, ' · ', t);
    const more = document.createElement('p');
    more.className = 'muted';
    const d = document.createElement('span');
    d.className = 'duration';
    d.textContent = duration(v.duration);
    const loc = document.createElement('span');
    loc.className = 'location';
    loc.textContent = v.location;
    more.append(d, ' · ', loc);
    li.append(h, meta, more);
    if (v.media) {
      const play = document.createElement('button');
      play.type = 'button';
      play.className = 'play';
      play.textContent = 'Play';
      play.setAttribute('aria-label', `Play ${v.title} by ${v.presenter}`);
      play.addEventListener('click', () => playVideo(v));
      li.append(play);
    } else {
      const s = document.createElement('p');
      s.textContent = v.status === 'failed' ? 'The recording failed.' : 'The recording is being prepared…';
      li.append(s);
    }
    return li;
  }));
}

function playVideo(v) {
  $('#player-title').textContent = `${v.title} — ${v.presenter}`;
  $('#player-box').hidden = false;
  const p = $('#player');
  p.src = v.media;
  p.play().catch(() => { /* the controls are there */ });
  p.focus();
}

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  L.query = query();
  load(1);
});
$('#filters').addEventListener('reset', () => {
  L.query = {};
  setTimeout(() => load(1));
});
$('#prev').addEventListener('click', () => load(L.page - 1));
$('#next').addEventListener('click', () => load(L.page + 1));
$('#player-close').addEventListener('click', () => {
  const p = $('#player');
  p.pause();
  p.removeAttribute('src');
  p.load();
  $('#player-box').hidden = true;
});

nav('/videos');
load(1);
// Recordings still being prepared become playable in a moment.
setInterval(() => {
  if (L.videos.some((v) => !v.media && v.status !== 'failed' && v.status !== 'deleted')) load(L.page);
}, 3000);
