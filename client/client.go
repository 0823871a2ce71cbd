// Package client holds the sources of the browser SDK (the OpenTok.js
// compatible OT global) so that the server can bundle and serve them; see
// internal/browsersdk.
package client

import "embed"

// Sources are the SDK's ES modules; src/index.js is the entry point.
//
//go:embed src
var Sources embed.FS
