import { $, api, nav, clock } from './common.js';

const live = (window.live = { shows: [] });

const viewers = (n) => (n === 1 ? '1 viewer' : n + ' viewers');

function card(s) {
  const li = document.createElement('li');
  li.dataset.showId = s.id;
  const title = document.createElement('a');
  title.className = 'title';
  title.href = '/live/watch/' + encodeURIComponent(s.id);
  title.textContent = s.title;
  const who = document.createElement('span');
  who.className = 'presenter';
  who.textContent = s.presenter;
  const since = document.createElement('span');
  since.className = 'muted';
  since.append('On air since ');
  const t = document.createElement('time');
  t.dateTime = new Date(s.startedAt).toISOString();
  t.textContent = clock(s.startedAt);
  since.append(t);
  const count = document.createElement('span');
  count.className = 'viewers';
  count.textContent = viewers(s.viewers);
  li.append(title, who, since, count);
  return li;
}

async function refresh() {
  try {
    const { shows } = await api('GET', '/live/api/shows');
    live.shows = shows;
    $('#list-error').textContent = '';
    // Update the cards in place when the same shows are listed, so that
    // keyboard focus stays where it is; rebuild only when they change.
    const list = $('#shows');
    const same = list.children.length === shows.length && shows.every((s, i) => list.children[i].dataset.showId === s.id);
    if (same) {
      shows.forEach((s, i) => {
        list.children[i].querySelector('.viewers').textContent = viewers(s.viewers);
      });
    } else {
      list.replaceChildren(...shows.map(card));
    }
    $('#empty').hidden = shows.length > 0;
  } catch (err) {
    $('#list-error').textContent = 'Could not load the shows: ' + err.message;
  }
}

nav('/live');
refresh();
setInterval(refresh, 5000);
