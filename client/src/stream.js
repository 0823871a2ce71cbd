// Connection and Stream: the session's participants and their published
// streams, built from (and checked against) the server's JSON.

function str(value, fallback = '') {
  return typeof value === 'string' ? value : fallback;
}

function num(value, fallback = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

export function isConnectionJSON(json) {
  return json !== null && typeof json === 'object' && typeof json.connectionId === 'string' && json.connectionId !== '';
}

export function isStreamJSON(json) {
  return (
    json !== null &&
    typeof json === 'object' &&
    typeof json.streamId === 'string' &&
    json.streamId !== '' &&
    isConnectionJSON(json.connection)
  );
}

export class Connection {
  constructor(json) {
    this.connectionId = json.connectionId;
    this.creationTime = num(json.creationTime);
    this.data = str(json.data);
  }
}

export function dimensionsOf(value) {
  if (!value || typeof value !== 'object') return { width: 0, height: 0 };
  return { width: num(value.width), height: num(value.height) };
}

export class Stream {
  constructor(json, connection) {
    this.streamId = json.streamId;
    this.connection = connection;
    this.creationTime = num(json.creationTime, Date.now());
    this.name = '';
    this.hasAudio = false;
    this.hasVideo = false;
    this.hasCaptions = false;
    this.videoDimensions = { width: 0, height: 0 };
    this.videoType = 'camera';
    this.frameRate = 0;
    this._update(json);
  }

  // _update copies the server's view of the stream. videoDimensions is
  // replaced, not mutated, so values held by past events stay true.
  _update(json) {
    if (!json || typeof json !== 'object') return;
    if (typeof json.name === 'string') this.name = json.name;
    if (typeof json.hasAudio === 'boolean') this.hasAudio = json.hasAudio;
    if (typeof json.hasVideo === 'boolean') this.hasVideo = json.hasVideo;
    if (typeof json.hasCaptions === 'boolean') this.hasCaptions = json.hasCaptions;
    if (json.videoDimensions && typeof json.videoDimensions === 'object') {
      this.videoDimensions = dimensionsOf(json.videoDimensions);
    }
    if (typeof json.videoType === 'string' && json.videoType) this.videoType = json.videoType;
    if (typeof json.frameRate === 'number') this.frameRate = num(json.frameRate);
    if (typeof json.creationTime === 'number' && json.creationTime > 0) this.creationTime = json.creationTime;
  }
}
