// Test harness: records what an OpenTok.js application would observe, so
// that Go tests can assert on it. Only public OT API is used.
'use strict';
window.H = {
  log: [],
  session: null,
  publishers: [],
  subscribers: {},

  record(source, ev, extra) {
    const entry = Object.assign({ source, type: ev.type }, extra || {});
    if (ev.reason !== undefined) entry.reason = ev.reason;
    if (ev.stream) entry.streamId = ev.stream.streamId;
    if (ev.stream) entry.videoType = ev.stream.videoType;
    if (ev.stream) entry.streamName = ev.stream.name;
    if (ev.connection) entry.connectionId = ev.connection.connectionId;
    if (ev.connection) entry.connectionData = ev.connection.data;
    H.log.push(entry);
  },

  count(type, pred) {
    return H.log.filter((e) => e.type === type && (!pred || pred(e))).length;
  },

  // connect joins a session, subscribing to every other stream that
  // appears when autoSubscribe is set.
  connect(apiKey, sessionId, token, opts) {
    opts = opts || {};
    const session = OT.initSession(apiKey, sessionId, opts.sessionOptions || {});
    H.session = session;
    session.on({
      connectionCreated: (ev) => H.record('session', ev),
      connectionDestroyed: (ev) => H.record('session', ev),
      streamDestroyed: (ev) => H.record('session', ev),
      sessionDisconnected: (ev) => H.record('session', ev),
      sessionReconnecting: (ev) => H.record('session', ev),
      sessionReconnected: (ev) => H.record('session', ev),
      muteForced: (ev) => H.record('session', ev, { active: ev.active }),
      streamPropertyChanged: (ev) => H.record('session', ev, {
        changedProperty: ev.changedProperty, oldValue: ev.oldValue, newValue: ev.newValue,
      }),
      signal: (ev) => H.record('session', ev, {
        signalType: ev.type, data: ev.data, from: ev.from ? ev.from.connectionId : null,
      }),
      streamCreated: (ev) => {
        H.record('session', ev);
        if (opts.autoSubscribe) H.subscribe(ev.stream, opts.subscribeProps);
      },
    });
    return new Promise((resolve, reject) => {
      session.connect(token, (err) => {
        if (err) { H.record('session', { type: 'connectError' }, { code: err.code, name: err.name }); reject(err); return; }
        resolve(session.connection.connectionId);
      });
    });
  },

  publish(props) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('div');
      document.getElementById('publishers').appendChild(el);
      const pub = OT.initPublisher(el, Object.assign({ insertMode: 'append', width: 320, height: 240 }, props || {}), (err) => {
        if (err) { reject(err); return; }
      });
      pub.on({
        streamCreated: (ev) => H.record('publisher', ev),
        streamDestroyed: (ev) => H.record('publisher', ev),
        audioLevelUpdated: (ev) => { H.pubAudioLevel = Math.max(H.pubAudioLevel || 0, ev.audioLevel); },
      });
      H.session.publish(pub, (err) => {
        if (err) { reject(err); return; }
        H.publishers.push(pub);
        resolve(pub.stream ? pub.stream.streamId : null);
      });
    });
  },

  subscribe(stream, props) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('div');
      document.getElementById('subscribers').appendChild(el);
      const sub = H.session.subscribe(stream, el, Object.assign({ insertMode: 'append', width: 320, height: 240 }, props || {}), (err) => {
        if (err) { H.record('subscriber', { type: 'subscribeError' }, { code: err.code }); reject(err); return; }
        resolve(stream.streamId);
      });
      H.subscribers[stream.streamId] = sub;
      sub.maxAudioLevel = 0;
      sub.on('audioLevelUpdated', (ev) => { sub.maxAudioLevel = Math.max(sub.maxAudioLevel, ev.audioLevel); });
      sub.on('videoDisabled', (ev) => H.record('subscriber', ev, { streamId: stream.streamId }));
      sub.on('videoEnabled', (ev) => H.record('subscriber', ev, { streamId: stream.streamId }));
    });
  },

  // media reports, per subscribed stream, what the page shows: decoded
  // frames of its video element and the loudest audio level seen.
  media() {
    const out = {};
    for (const [id, sub] of Object.entries(H.subscribers)) {
      const v = sub.element ? sub.element.querySelector('video') : null;
      out[id] = {
        frames: v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
        width: v ? v.videoWidth : 0,
        audioLevel: sub.maxAudioLevel,
      };
    }
    return out;
  },

  // diagnose describes the page's state for a failing test's report:
  // what it subscribed to, what it shows, and its last recorded events.
  async diagnose() {
    const subs = {};
    for (const [id, sub] of Object.entries(H.subscribers)) {
      let pc = '';
      try {
        const report = await sub.getRtcStatsReport();
        report.forEach((s) => {
          if (s.type === 'transport') pc += `dtls=${s.dtlsState} ice=${s.iceState || ''} `;
          if (s.type === 'inbound-rtp') {
            pc += `${s.kind}:packets=${s.packetsReceived},decoded=${s.framesDecoded || 0}`;
            if (s.kind === 'video') {
              pc += `,received=${s.framesReceived},keyframes=${s.keyFramesDecoded},dropped=${s.framesDropped},lost=${s.packetsLost}` +
                `,nack=${s.nackCount},pli=${s.pliCount},fir=${s.firCount},size=${s.frameWidth}x${s.frameHeight},decoder=${s.decoderImplementation}`;
            }
            pc += ' ';
          }
        });
      } catch (err) { pc = 'stats: ' + err; }
      subs[id] = pc;
    }
    const pubs = {};
    for (const [i, pub] of H.publishers.entries()) {
      try {
        pubs[pub.stream ? pub.stream.streamId : i] = (await pub.getRtcStatsReport()).map((e) => {
          const out = H.ice(e.rtcStatsReport);
          // What the encoder sends, layer by layer.
          out.video = [];
          e.rtcStatsReport.forEach((s) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video') {
              out.video.push(`${s.rid || '-'}: active=${s.active} size=${s.frameWidth}x${s.frameHeight} encoded=${s.framesEncoded} ` +
                `keyframes=${s.keyFramesEncoded} pli=${s.pliCount} nack=${s.nackCount} limited=${s.qualityLimitationReason}`);
            }
          });
          return out;
        });
      } catch (err) { pubs[i] = 'stats: ' + err; }
    }
    return { connected: !!(H.session && H.session.connection), publishers: pubs,
      media: H.media(), subscribers: subs, log: H.log.slice(-15) };
  },

  // ice describes a peer connection's ICE state from its stats: the
  // transport, the local and remote candidates, and every candidate pair
  // with its checks sent and answered.
  ice(report) {
    const cand = (id) => {
      const c = report.get(id);
      return c ? `${c.candidateType} ${c.protocol} ${c.address || c.ip}:${c.port}${c.relayProtocol ? ' via ' + c.relayProtocol : ''}` : id;
    };
    const out = { transport: '', locals: [], remotes: [], pairs: [] };
    report.forEach((s) => {
      if (s.type === 'transport') out.transport = `dtls=${s.dtlsState} ice=${s.iceState || ''} role=${s.iceRole || ''} selected=${s.selectedCandidatePairId || ''}`;
      if (s.type === 'local-candidate') out.locals.push(cand(s.id));
      if (s.type === 'remote-candidate') out.remotes.push(cand(s.id));
      if (s.type === 'candidate-pair') {
        out.pairs.push(`${cand(s.localCandidateId)} -> ${cand(s.remoteCandidateId)}: ${s.state}${s.nominated ? ' nominated' : ''}` +
          ` req=${s.requestsSent}/${s.responsesReceived} in=${s.requestsReceived}/${s.responsesSent}`);
      }
    });
    return out;
  },

  // paths reports where media flows: for each subscribed stream, and for
  // each publisher's peer connection (one per subscriber in a relayed
  // session, with its connectionId), the selected candidate pair's local
  // and remote candidates {address, port, type, protocol, url}, and all
  // the local candidates (locals).
  async paths() {
    const candidate = (report, id) => {
      const c = id ? report.get(id) : null;
      if (!c) return null;
      return {
        address: c.address || c.ip || '', port: c.port || 0, type: c.candidateType || '',
        protocol: c.protocol || '', url: c.url || '',
      };
    };
    const selected = (report) => {
      let pair = null;
      report.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
      });
      if (!pair) return null;
      const locals = [];
      report.forEach((s) => {
        if (s.type === 'local-candidate') locals.push(candidate(report, s.id));
      });
      return { local: candidate(report, pair.localCandidateId), remote: candidate(report, pair.remoteCandidateId), locals };
    };
    const out = { subscribers: {}, publishers: {} };
    for (const [id, sub] of Object.entries(H.subscribers)) {
      try {
        out.subscribers[id] = selected(await sub.getRtcStatsReport());
      } catch (err) {
        out.subscribers[id] = null;
      }
    }
    for (const pub of H.publishers) {
      if (!pub.stream) continue;
      const entries = await pub.getRtcStatsReport().catch(() => []);
      out.publishers[pub.stream.streamId] = entries.map((e) => ({
        connectionId: e.connectionId || '', path: selected(e.rtcStatsReport),
      }));
    }
    return out;
  },
};
window.harnessReady = true;
