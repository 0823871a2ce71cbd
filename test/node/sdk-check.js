// Drives the official OpenTok Node SDK against a live Parley and prints
// what it saw as JSON on stdout; test/sdk asserts on it.
// Environment: PARLEY_URL, PARLEY_API_KEY, PARLEY_API_SECRET.
'use strict';
const OpenTok = require('opentok');

const url = process.env.PARLEY_URL;
const key = process.env.PARLEY_API_KEY;
const secret = process.env.PARLEY_API_SECRET;

function createSession(ot, opts) {
  return new Promise((resolve) => {
    ot.createSession(opts, (err, session) => resolve({ err, session }));
  });
}

function describeError(err) {
  return err ? { name: err.name, message: err.message, isAuthError: err instanceof OpenTok.AuthError } : null;
}

async function main() {
  const ot = new OpenTok(key, secret, { apiUrl: url });
  const out = { sessions: {}, errors: {} };
  const variants = {
    relayed: {},
    routed: { mediaMode: 'routed' },
    routedAlways: { mediaMode: 'routed', archiveMode: 'always', archiveName: 'auto', archiveResolution: '1280x720' },
    located: { mediaMode: 'routed', location: '12.34.56.78' },
  };
  const expireTime = Math.round(Date.now() / 1000) + 3600;
  for (const [name, opts] of Object.entries(variants)) {
    const { err, session } = await createSession(ot, opts);
    if (err) {
      out.sessions[name] = { error: describeError(err) };
      continue;
    }
    const tokenOpts = { role: 'moderator', data: 'name=Bob&x=1', expireTime, initialLayoutClassList: ['focus', 'big'] };
    out.sessions[name] = {
      sessionId: session.sessionId,
      jwt: ot.generateToken(session.sessionId, tokenOpts),
      t1: ot.generateToken(session.sessionId, { role: 'subscriber', data: 'name=Ann', expireTime }, true),
      sessionToken: session.generateToken(),
      publisherOnly: session.generateToken({ role: 'publisheronly' }),
      expireTime,
    };
  }

  // A wrong secret is an authentication failure.
  const wrong = new OpenTok(key, 'not-the-secret-at-all-0000000000', { apiUrl: url });
  out.errors.wrongSecret = describeError((await createSession(wrong, {})).err);

  // An unknown API key is too (the server looks the project up by iss).
  const unknown = new OpenTok('99999', secret, { apiUrl: url });
  out.errors.unknownKey = describeError((await createSession(unknown, {})).err);

  // apiUrl with a trailing slash makes the SDK ask for //session/create.
  const slash = new OpenTok(key, secret, { apiUrl: url + '/' });
  const s = await createSession(slash, { mediaMode: 'routed' });
  out.trailingSlash = { error: describeError(s.err), sessionId: s.session && s.session.sessionId };

  // A session of another project cannot get a token from this SDK.
  try {
    new OpenTok('11111', secret, { apiUrl: url }).generateToken(out.sessions.routed.sessionId);
    out.errors.foreignSession = null;
  } catch (e) {
    out.errors.foreignSession = { message: e.message };
  }

  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
