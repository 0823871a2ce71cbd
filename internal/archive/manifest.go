package archive

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
)

// manifest describes an individual archive's files. Its final form is
// the <archive id>.json of the zip, in the shape of OpenTok's manifest
// (id, name, sessionId, createdAt, files with streamId, connectionData,
// filename, size and start and stop offsets in milliseconds after
// createdAt), with Parley's additions. While the archive records it is
// the journal of its working folder, rewritten at each change, so that a
// crashed recording can be finished from what is on disk.
type manifest struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	SessionID string         `json:"sessionId"`
	CreatedAt int64          `json:"createdAt"`
	Files     []manifestFile `json:"files"`
}

// manifestFile is one file of one stream. A stream whose tracks change
// (manual stream mode), or that is removed and added again, has one file
// per stretch.
type manifestFile struct {
	Filename        string `json:"filename"`
	StreamID        string `json:"streamId"`
	ConnectionID    string `json:"connectionId"`
	ConnectionData  string `json:"connectionData"`
	StreamName      string `json:"streamName,omitempty"`
	VideoType       string `json:"videoType,omitempty"`
	StartTimeOffset int64  `json:"startTimeOffset"`
	StopTimeOffset  int64  `json:"stopTimeOffset"`
	Size            int64  `json:"size"`
	HasAudio        bool   `json:"hasAudio"`
	HasVideo        bool   `json:"hasVideo"`
	AudioCodec      string `json:"audioCodec,omitempty"`
	VideoCodec      string `json:"videoCodec,omitempty"`
	// Note tells what of the stream is not in the file, and why.
	Note string `json:"note,omitempty"`
	// Finished is set in the journal once the file was finished: its
	// size and stop offset are then known. Not part of the final form.
	Finished bool `json:"finished,omitempty"`
}

const journalName = "manifest.json"

// fileNameRE is the form of every media file name: a stream id (at most
// 64 URL-safe characters, as internal/session allows), a stretch number
// after the first, and the container's extension. Names of any other
// form are never opened, whatever a journal on disk says.
var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}(\.[0-9]{1,4})?\.(webm|mkv)$`)

// readJournal reads the journal of archive id's working folder.
func readJournal(root *os.Root, id string) (manifest, error) {
	var m manifest
	b, err := root.ReadFile(path.Join(id, journalName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("journal of archive %s: %w", id, err)
	}
	for _, f := range m.Files {
		if !fileNameRE.MatchString(f.Filename) {
			return m, fmt.Errorf("journal of archive %s: bad file name %q", id, f.Filename)
		}
	}
	return m, nil
}

// writeJournal replaces the journal whole: written aside, then renamed,
// so that a crash leaves the old one or the new one, never half of one.
func writeJournal(root *os.Root, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := path.Join(m.ID, journalName+".tmp")
	if err := root.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return root.Rename(tmp, path.Join(m.ID, journalName))
}
