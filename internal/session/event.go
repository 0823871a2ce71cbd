package session

// EventKind names an event; the values are the OpenTok.js event types.
type EventKind string

// Kinds of events a session emits.
const (
	// EventConnectionCreated: Connection joined (or, during the replay on
	// Join, was already there).
	EventConnectionCreated EventKind = "connectionCreated"
	// EventConnectionDestroyed: Connection left, for Reason.
	EventConnectionDestroyed EventKind = "connectionDestroyed"
	// EventStreamCreated: Stream was published (or, during the replay on
	// Join, already was).
	EventStreamCreated EventKind = "streamCreated"
	// EventStreamDestroyed: Stream ended, for Reason.
	EventStreamDestroyed EventKind = "streamDestroyed"
	// EventStreamPropertyChanged: Property of Stream went from OldValue to
	// NewValue.
	EventStreamPropertyChanged EventKind = "streamPropertyChanged"
	// EventSignal: a signal of SignalType with SignalData, from Connection
	// (nil when the server sent it).
	EventSignal EventKind = "signal"
	// EventMuteForced: the audio of Stream was forced off (Active true),
	// or the force mute was lifted (Active false).
	EventMuteForced EventKind = "muteForced"
	// EventSessionDisconnected: the addressee is being removed from the
	// session, for Reason; no event reaches it afterwards.
	EventSessionDisconnected EventKind = "sessionDisconnected"
	// EventLayoutClassListChanged: the server changed the layout class
	// list of Stream (OldValue and NewValue are []string). OpenTok clients
	// never see layout classes, so only observers (the composers of
	// archives and broadcasts) receive it.
	EventLayoutClassListChanged EventKind = "layoutClassListChanged"
	// EventArchiveStarted: archive ArchiveID, named ArchiveName, started
	// recording the session (or, during the replay on Join, records it).
	EventArchiveStarted EventKind = "archiveStarted"
	// EventArchiveStopped: archive ArchiveID, named ArchiveName, stopped
	// recording the session.
	EventArchiveStopped EventKind = "archiveStopped"
)

// Reasons carried by destroyed events and sessionDisconnected, spelled
// exactly as OpenTok.js spells them.
const (
	// ReasonClientDisconnected: the client disconnected or unpublished.
	ReasonClientDisconnected = "clientDisconnected"
	// ReasonForceDisconnected: a moderator or the server disconnected
	// the client.
	ReasonForceDisconnected = "forceDisconnected"
	// ReasonNetworkDisconnected: the client's network went away.
	ReasonNetworkDisconnected = "networkDisconnected"
	// ReasonForceUnpublished: a moderator or the server stopped the
	// stream.
	ReasonForceUnpublished = "forceUnpublished"
	// ReasonMediaStopped: the stream's media ended (a screen share was
	// stopped from the browser's own controls).
	ReasonMediaStopped = "mediaStopped"
	// ReasonServerRotation: the node serving the session is going away.
	ReasonServerRotation = "serverRotation"
	// ReasonReset: the publisher was destroyed (Publisher.destroy).
	ReasonReset = "reset"
	// ReasonMediaIdle: the client neither published nor subscribed for
	// a long time.
	ReasonMediaIdle = "mediaIdle"
)

// validLeaveReason reports whether reason may end a connection.
func validLeaveReason(reason string) bool {
	switch reason {
	case ReasonClientDisconnected, ReasonForceDisconnected, ReasonNetworkDisconnected,
		ReasonServerRotation, ReasonMediaIdle:
		return true
	}
	return false
}

// validUnpublishReason reports whether reason may end a stream.
func validUnpublishReason(reason string) bool {
	switch reason {
	case ReasonClientDisconnected, ReasonForceDisconnected, ReasonNetworkDisconnected,
		ReasonForceUnpublished, ReasonMediaStopped, ReasonServerRotation, ReasonReset:
		return true
	}
	return false
}

// Event is something that happened in a session, addressed to one
// connection or to all of them.
//
// One Event value, and what it points to, goes to every sink it is
// addressed to: sinks may keep it but must not modify it. It never points
// into the session's own state.
type Event struct {
	Kind EventKind
	// Connection is the connection the event is about: the one created or
	// destroyed, the sender of a signal (nil when the server sent it), the
	// owner of the stream of a stream event or muteForced, the addressee of
	// sessionDisconnected.
	Connection *Connection
	// Stream is the stream as it was when the event happened (after the
	// change, for streamPropertyChanged).
	Stream *Stream
	// Reason is set on connectionDestroyed, streamDestroyed and
	// sessionDisconnected: one of the Reason* constants.
	Reason string
	// Property, OldValue and NewValue describe a streamPropertyChanged:
	// Property is one of the Property* constants; the values are bool for
	// the has* properties, VideoDimensions for videoDimensions and string
	// for videoType.
	Property string
	OldValue any
	NewValue any
	// SignalType and SignalData are the signal's.
	SignalType string
	SignalData string
	// Active is muteForced's: true when audio was forced off, false when
	// the force mute was lifted.
	Active bool
	// ArchiveID and ArchiveName are archiveStarted's and archiveStopped's.
	ArchiveID   string
	ArchiveName string
	// Target is the id of the connection the event is addressed to, or ""
	// when it is addressed to every connection. It lets observers, which
	// see all events, tell the two apart: the events that change the
	// state everyone sees are exactly those with Target "" (the replay a
	// joiner gets is addressed to the joiner alone).
	Target string
}

// Sink receives the events addressed to one connection or, for an
// observer, every event of a session.
//
// Send is called with the session's lock held, in the order the session
// emits events, so that every sink sees one global order. It must not
// block (queue the event and return) and must not call back into the
// Session.
type Sink interface {
	Send(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Send calls f(e).
func (f SinkFunc) Send(e Event) { f(e) }
