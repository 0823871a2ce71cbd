// Shared by Live's pages: the JSON API, the navigation bar, formatting.

export const $ = (sel, root = document) => root.querySelector(sel);

// api calls Live's JSON API; a caller who is not signed in goes to the
// sign-in page. Errors carry the server's message.
export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && !path.startsWith('/live/api/sign')) {
    location.assign('/live/signin?next=' + encodeURIComponent(location.pathname + location.search));
    throw new Error('sign in first');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = new Error((data && data.message) || res.statusText || 'request failed');
    err.status = res.status;
    throw err;
  }
  return data;
}

// nav fills the page's <nav> with the app's links and the signed-in user.
export async function nav(current) {
  const el = $('#nav');
  const links = [['/live', 'Live now'], ['/live/present', 'Go live'], ['/videos', 'Library'], ['/live/call', 'Calls']];
  const ul = document.createElement('ul');
  for (const [href, text] of links) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    if (href === current) a.setAttribute('aria-current', 'page');
    li.append(a);
    ul.append(li);
  }
  const me = document.createElement('li');
  me.className = 'me';
  const who = document.createElement('span');
  who.id = 'me';
  const out = document.createElement('button');
  out.type = 'button';
  out.id = 'signout';
  out.textContent = 'Sign out';
  out.addEventListener('click', async () => {
    await api('POST', '/live/api/signout');
    location.assign('/live/signin');
  });
  me.append(who, out);
  ul.append(me);
  el.replaceChildren(ul);
  const user = await api('GET', '/live/api/me');
  who.textContent = user.name;
  return user;
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function when(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function parseData(connection) {
  try {
    const d = JSON.parse(connection.data || '{}');
    return { name: String(d.name || 'someone'), role: String(d.role || '') };
  } catch {
    return { name: 'someone', role: '' };
  }
}
