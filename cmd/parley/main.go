// Command parley is the Parley server and its tools: serve, project,
// webhook, session, token and version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `parley: a self-hosted video platform that speaks the OpenTok API

usage:
  parley serve [flags]                 run a node (no flags needed; -h lists them)
  parley project create [--name N]     add a project (prints its API key and secret)
  parley project list                  list projects
  parley project show API_KEY          show a project and its secret
  parley webhook add URL               send the project's session events to URL (prints its secret)
  parley webhook list                  list the project's webhooks
  parley webhook remove ID             remove a webhook
  parley webhook log [ID]              show recent delivery attempts, newest first
                                       (webhook: --data, --api-key to pick the project, default the first)
  parley session create [flags]        create a session through the REST API
  parley token --session-id ID [flags] mint a client token
  parley loadtest [flags]              run media clients against a server and report (-h lists flags)
  parley version                       print the version
`

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it is main without the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, getenv)
	case "project":
		return projectCmd(ctx, rest, stdout, stderr, getenv)
	case "webhook":
		return webhookCmd(ctx, rest, stdout, stderr, getenv)
	case "storage":
		return storageCmd(ctx, rest, stdout, stderr, getenv)
	case "session":
		return sessionCmd(ctx, rest, stdout, stderr, getenv)
	case "token":
		return tokenCmd(ctx, rest, stdout, stderr, getenv)
	case "loadtest":
		return loadtestCmd(ctx, rest, stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "parley", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
