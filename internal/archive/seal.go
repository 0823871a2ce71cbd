package archive

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"
)

// sealed is what sealing an archive produced.
type sealed struct {
	name  string // the final file: <id>.zip or <id>.mp4
	size  int64
	files int
	// endMs is where the last file ends, in ms after the archive's start.
	endMs int64
}

// errNothingRecorded is returned by seal when no file holds anything.
var errNothingRecorded = errors.New("nothing was recorded")

// errNoComposer is returned by seal for a composed archive on a node
// that cannot compose (no ffmpeg).
var errNoComposer = errors.New("composed archives need ffmpeg, which this node does not have")

// seal turns archive id's working folder into its final file: the
// <id>.zip of an individual archive, or the <id>.mp4 a composed one's
// composition makes (composer, nil when none can run, refuses it). It
// finishes the files the journal lists that a clean stop did not finish
// (those of a recording the process died in), and removes the folder.
// The final file is written under another name and renamed, so it
// exists whole or not at all; sealing again after a crash at any point
// gives the same result.
func seal(ctx context.Context, root *os.Root, id string, composer *composer) (sealed, error) {
	if _, err := root.Stat(id); errors.Is(err, fs.ErrNotExist) {
		// Sealed already, or never recorded anything.
		return sealedFile(root, id)
	}
	m, err := readJournal(root, id)
	if errors.Is(err, fs.ErrNotExist) {
		return sealed{}, errNothingRecorded
	}
	if err != nil {
		return sealed{}, err
	}
	final, res, err := finishFiles(ctx, root, m)
	if err != nil {
		return sealed{}, err
	}
	b, err := root.ReadFile(path.Join(id, compositionName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(final.Files) == 0 {
			return sealed{}, errNothingRecorded
		}
		res.name = id + ".zip"
		err = writeZip(ctx, root, res.name, final)
	case err != nil:
		return sealed{}, err
	default:
		var c composition
		if c, err = readComposition(b); err != nil {
			return sealed{}, err
		}
		if len(final.Files) == 0 {
			return sealed{}, errNothingRecorded
		}
		if composer == nil {
			return sealed{}, errNoComposer
		}
		res.name = id + ".mp4"
		plan := c.plan(final.Files)
		res.endMs = plan.durationMs
		err = composer.compose(ctx, root, id, plan, res.name)
	}
	if err != nil {
		return sealed{}, err
	}
	st, err := root.Stat(res.name)
	if err != nil {
		return sealed{}, err
	}
	res.size = st.Size()
	if err := root.RemoveAll(id); err != nil {
		return sealed{}, err
	}
	return res, nil
}

// finishFiles finishes the files of journal m that are not (a crash
// interrupted them) and returns the final manifest: the files that hold
// something.
func finishFiles(ctx context.Context, root *os.Root, m manifest) (manifest, sealed, error) {
	final := m
	final.Files = []manifestFile{}
	var res sealed
	for _, e := range m.Files {
		if err := ctx.Err(); err != nil {
			return final, res, err
		}
		name := path.Join(m.ID, e.Filename)
		if _, err := root.Stat(name); err != nil {
			continue // nothing was recorded for it
		}
		if !e.Finished {
			f, err := root.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				return final, res, err
			}
			info, err := finishMatroska(f)
			f.Close()
			if errors.Is(err, errNotMatroska) || (err == nil && info.blocks == 0) {
				continue // died before a whole block was written
			}
			if err != nil {
				return final, res, fmt.Errorf("finish %s: %w", name, err)
			}
			e.Size, e.StopTimeOffset = info.size, e.StartTimeOffset+info.durationMs
		}
		if e.Size == 0 {
			continue
		}
		e.Finished = false
		final.Files = append(final.Files, e)
		res.endMs = max(res.endMs, e.StopTimeOffset)
	}
	res.files = len(final.Files)
	return final, res, nil
}

// sealedFile describes an archive sealed before (by a run that died
// before recording so in the store).
func sealedFile(root *os.Root, id string) (sealed, error) {
	st, err := root.Stat(id + ".mp4")
	if err == nil {
		return sealed{name: id + ".mp4", size: st.Size(), files: 1}, nil
	}
	return sealedZip(root, id+".zip")
}

// sealedZip describes an archive sealed before (by a run that died
// before recording so in the store).
func sealedZip(root *os.Root, zipName string) (sealed, error) {
	f, err := root.Open(zipName)
	if errors.Is(err, fs.ErrNotExist) {
		return sealed{}, errNothingRecorded
	}
	if err != nil {
		return sealed{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sealed{}, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return sealed{}, err
	}
	res := sealed{name: zipName, size: st.Size()}
	for _, zf := range zr.File {
		if path.Ext(zf.Name) != ".json" {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return sealed{}, err
		}
		var m manifest
		err = json.NewDecoder(rc).Decode(&m)
		rc.Close()
		if err != nil {
			return sealed{}, fmt.Errorf("%s: manifest: %w", zipName, err)
		}
		for _, e := range m.Files {
			res.endMs = max(res.endMs, e.StopTimeOffset)
		}
		res.files = len(m.Files)
	}
	return res, nil
}

// writeZip writes the media files of m and the manifest (as <id>.json)
// into zipName. Media is stored as is: WebM does not compress further.
func writeZip(ctx context.Context, root *os.Root, zipName string, m manifest) (err error) {
	tmp := zipName + ".tmp"
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			root.Remove(tmp)
		}
	}()
	zw := zip.NewWriter(out)
	for _, e := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := root.Open(path.Join(m.ID, e.Filename))
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Filename, Method: zip.Store,
			Modified: time.UnixMilli(m.CreatedAt + e.StopTimeOffset)})
		if err == nil {
			_, err = io.Copy(w, in)
		}
		in.Close()
		if err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: m.ID + ".json", Method: zip.Deflate, Modified: time.Now()})
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return root.Rename(tmp, zipName)
}
