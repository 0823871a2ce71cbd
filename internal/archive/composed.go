package archive

import (
	"encoding/json"
	"path"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/layout"
)

// composed is the output of a composed archive while it records: the
// streams go into files as an individual archive's do, and the
// composition journal follows the layout and what the picture shows.
type composed struct {
	*individual
	c composition
}

func newComposed(in *individual, c composition) (*composed, error) {
	o := &composed{individual: in, c: c}
	if o.c.Layouts == nil {
		o.c.Layouts = []timedLayout{}
	}
	if o.c.Classes == nil {
		o.c.Classes = []timedClass{}
	}
	if o.c.Video == nil {
		o.c.Video = []timedVideo{}
	}
	return o, o.write()
}

// recordingStream reports whether the stream is being recorded.
func (o *composed) recordingStream(id string) bool {
	_, ok := o.live[id]
	return ok
}

func (o *composed) now() int64 { return time.Since(o.createdAt).Milliseconds() }

// write replaces the composition journal whole, as writeJournal does the
// manifest.
func (o *composed) write() error {
	b, err := json.MarshalIndent(o.c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path.Join(o.c.ID, compositionName+".tmp")
	if err := o.root.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return o.root.Rename(tmp, path.Join(o.c.ID, compositionName))
}

func (o *composed) include(src source) error {
	if err := o.individual.include(src); err != nil {
		return err
	}
	now := o.now()
	o.c.Classes = append(o.c.Classes, timedClassOf(now, src.stream))
	o.c.Video = append(o.c.Video, timedVideo{At: now, StreamID: src.stream.ID, On: src.stream.HasVideo})
	return o.write()
}

// setLayout changes the layout from now on.
func (o *composed) setLayout(spec layout.Spec) error {
	o.c.Layouts = append(o.c.Layouts, timedLayout{At: o.now(), Layout: spec})
	return o.write()
}

// setClasses follows a stream's layout class list.
func (o *composed) setClasses(streamID string, classes []string) error {
	o.c.Classes = append(o.c.Classes, timedClass{At: o.now(), StreamID: streamID, Classes: slices.Clone(classes)})
	return o.write()
}

// setVideo follows a stream's video going off and on.
func (o *composed) setVideo(streamID string, on bool) error {
	o.c.Video = append(o.c.Video, timedVideo{At: o.now(), StreamID: streamID, On: on})
	return o.write()
}

func (o *composed) close() error {
	err := o.individual.close()
	o.c.StoppedAt = o.now()
	if werr := o.write(); err == nil {
		err = werr
	}
	return err
}
