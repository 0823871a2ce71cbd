package live

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleyhq/parley/apps/pageapi"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/pkg/opentok"
)

// Library paging.
const (
	DefaultPageSize = 12
	MaxPageSize     = 50
)

// Video is a recorded show as the library lists it.
type Video struct {
	ID        string `json:"id"`
	Presenter string `json:"presenter"`
	Title     string `json:"title"`
	// StartedAt and EndedAt are in ms since the epoch.
	StartedAt int64 `json:"startedAt"`
	EndedAt   int64 `json:"endedAt"`
	// Duration is in seconds.
	Duration int    `json:"duration"`
	Location string `json:"location"`
	// Status is the recording's: "available" plays; "stopped" is still
	// being written; "failed" never will.
	Status string `json:"status"`
	// Media plays the recording (with HTTP ranges, for seeking).
	Media string `json:"media,omitempty"`
}

// final says whether a recording status will change no more.
func final(status string) bool {
	switch status {
	case "available", "uploaded", "failed", "deleted", "expired":
		return true
	}
	return false
}

func playable(status string) bool { return status == "available" }

// videoFilter reads the library's query: presenter, location, from and to
// (ms since the epoch), minDuration and maxDuration (seconds), page and
// size. Anything malformed is refused, naming the parameter.
func videoFilter(q url.Values) (store.ShowFilter, int, int, string) {
	f := store.ShowFilter{Statuses: []string{store.ShowEnded}, Recorded: true}
	num := func(name string, limit int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n >= 0 && n <= limit
	}
	const maxMillis = 1 << 46 // about the year 4200
	from, ok1 := num("from", maxMillis)
	to, ok2 := num("to", maxMillis)
	minD, ok3 := num("minDuration", 1<<31-1)
	maxD, ok4 := num("maxDuration", 1<<31-1)
	page, ok5 := num("page", 1<<20)
	size, ok6 := num("size", MaxPageSize)
	switch {
	case !ok1 || !ok2:
		return f, 0, 0, "from and to are times in milliseconds since 1970"
	case !ok3 || !ok4:
		return f, 0, 0, "minDuration and maxDuration are whole seconds"
	case !ok5 || !ok6:
		return f, 0, 0, "page counts from 1; size is 1 to 50"
	case from > 0 && to > 0 && to <= from:
		return f, 0, 0, "to must be after from"
	case maxD > 0 && minD > maxD:
		return f, 0, 0, "minDuration must not be above maxDuration"
	}
	if p := q.Get("presenter"); p != "" {
		name, ok := cleanText(p, MaxNameLen)
		if !ok {
			return f, 0, 0, "presenter is a user name"
		}
		f.Presenter = name
	}
	if l := q.Get("location"); l != "" {
		loc, ok := cleanText(l, 100)
		if !ok {
			return f, 0, 0, "location is up to 100 characters"
		}
		f.Location = loc
	}
	if from > 0 {
		f.From = time.UnixMilli(from)
	}
	if to > 0 {
		f.To = time.UnixMilli(to)
	}
	f.MinDuration, f.MaxDuration = int(minD), int(maxD)
	if page == 0 {
		page = 1
	}
	if size == 0 {
		size = DefaultPageSize
	}
	f.Offset, f.Count = int((page-1)*size), int(size)
	return f, int(page), int(size), ""
}

// videos lists the library: recorded shows, newest first, filtered and
// paged ({videos, page, size, total}).
func (a *App) videos(w http.ResponseWriter, r *http.Request, _ store.LiveUser) {
	f, page, size, bad := videoFilter(r.URL.Query())
	if bad != "" {
		pageapi.WriteError(w, http.StatusBadRequest, bad)
		return
	}
	ctx := r.Context()
	// Shows whose presenter left without stopping end now, so that they
	// are listed.
	if _, _, err := a.settle(ctx); err != nil {
		a.internal(w, "shows on air", err)
		return
	}
	list, total, err := a.o.Store.Shows(ctx, f)
	if err != nil {
		a.internal(w, "library", err)
		return
	}
	out := []Video{}
	for _, s := range list {
		if !final(s.Recording) {
			// The recording was still being written when last seen.
			if ar, err := a.client().GetArchive(ctx, s.ArchiveID); err == nil {
				s.Recording, s.Duration = ar.Status, ar.Duration
				if err := a.o.Store.UpdateShow(ctx, s); err != nil {
					a.internal(w, "library", err)
					return
				}
			} else if errors.Is(err, opentok.ErrNotFound) {
				s.Recording = "deleted"
				a.o.Store.UpdateShow(ctx, s)
			}
		}
		v := Video{ID: s.ID, Presenter: s.Presenter, Title: s.Title, StartedAt: ms(s.StartedAt), EndedAt: ms(s.EndedAt),
			Duration: s.Duration, Location: s.Location, Status: s.Recording}
		if playable(s.Recording) {
			v.Media = "/videos/" + s.ID + "/media"
		}
		out = append(out, v)
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]any{"videos": out, "page": page, "size": size, "total": total})
}

// media sends the player to the recording's download link, fresh for a
// few minutes; the link itself serves byte ranges, which is what seeking
// asks for.
func (a *App) media(w http.ResponseWriter, r *http.Request, _ store.LiveUser) {
	s, ok := a.loadShow(w, r)
	if !ok {
		return
	}
	if s.ArchiveID == "" {
		pageapi.WriteError(w, http.StatusNotFound, "this show has no recording")
		return
	}
	ar, err := a.client().GetArchive(r.Context(), s.ArchiveID)
	if errors.Is(err, opentok.ErrNotFound) {
		pageapi.WriteError(w, http.StatusNotFound, "the recording was deleted")
		return
	}
	if err != nil {
		a.internal(w, "recording of "+s.ID, err)
		return
	}
	if ar.URL == nil || !playable(ar.Status) {
		pageapi.WriteError(w, http.StatusConflict, "the recording is "+ar.Status+", not ready to play yet")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, a.pageURL(*ar.URL), http.StatusFound)
}
