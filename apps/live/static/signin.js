import { $, api } from './common.js';

// next is where to go once signed in: a path of this site only.
function next() {
  const n = new URLSearchParams(location.search).get('next') || '';
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/live';
}

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#signin-error').textContent = '';
  try {
    await api('POST', '/live/api/signin', { name: $('#signin-name').value, password: $('#signin-password').value });
    location.assign(next());
  } catch (err) {
    $('#signin-error').textContent = err.message;
  }
});

$('#signup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#signup-error').textContent = '';
  if ($('#signup-password').value !== $('#signup-repeat').value) {
    $('#signup-error').textContent = 'The two passwords differ.';
    $('#signup-repeat').focus();
    return;
  }
  try {
    await api('POST', '/live/api/signup', { name: $('#signup-name').value.trim(), password: $('#signup-password').value });
    location.assign(next());
  } catch (err) {
    $('#signup-error').textContent = err.message;
  }
});
