package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/quarry-dev/quarry/internal/config"
	"github.com/quarry-dev/quarry/internal/gcpace"
	"github.com/quarry-dev/quarry/internal/server"
	"github.com/quarry-dev/quarry/internal/textpages"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quarry serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "path to the gateway's YAML config (required)")
	addr := fs.String("addr", "", "listen address, overriding server.address (e.g. 127.0.0.1:8080)")
	watch := fs.Bool("watch", false, "reload the config whenever its file's content changes (SIGHUP always reloads)")
	watchEvery := fs.Duration("watch-interval", time.Second, "how often --watch checks the file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: quarry serve --config FILE [--addr HOST:PORT] [--watch]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "quarry serve: --config FILE is required (and no other arguments)")
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// GOGC=400 while the live heap is small (request traffic: it cuts
		// the collector's CPU by two thirds), less as open streams make it
		// grow (see internal/gcpace). GOGC in the environment still wins.
		gcpace.Start()
	}
	// load reads the file as at start-up, --addr included, for reloads too.
	load := func() (*config.Config, error) {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return nil, err
		}
		if *addr != "" {
			if err := cfg.SetAddress(*addr); err != nil {
				return nil, err
			}
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, "quarry serve:", err)
		return 1
	}
	// Listen first: an address in use is then reported before the
	// emulator, the store and the model clients start (and log).
	ln, err := net.Listen("tcp", cfg.Server.Address)
	if err != nil {
		fmt.Fprintln(stderr, "quarry serve: listen:", err)
		return 1
	}
	defer ln.Close() // Serve closes it too; a second Close is harmless
	// The gateway's logs go where the command's errors go.
	logger := server.NewLogger(stderr, cfg.Server.LogLevel, cfg.Server.LogFormat)
	// Libraries logging through slog.Default (the AWS SDK's messages of
	// clients made without a Logger) write the gateway's format too.
	slog.SetDefault(logger)
	srv, err := server.New(ctx, cfg, server.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "quarry serve:", err)
		return 1
	}
	defer srv.Close()
	// Start-up is over: the executable's pages only it used leave the
	// resident set (see internal/textpages). Failing is harmless (no
	// /proc, another OS): the pages stay.
	if n, err := textpages.Trim(); err != nil {
		logger.Debug("executable's pages not trimmed", "error", err)
	} else {
		logger.Debug("executable's pages trimmed", "resident_bytes", n)
	}
	names := make([]string, 0, len(srv.Registry().Models()))
	for _, m := range srv.Registry().Models() {
		names = append(names, m.Name)
	}
	served := "no configured models"
	if len(names) > 0 {
		served = strings.Join(names, ", ")
	}
	// SIGHUP (and, with --watch, a changed file) reloads the config; the
	// watcher stops before the server closes.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	interval := time.Duration(0)
	if *watch {
		interval = *watchEvery
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		srv.Watch(wctx, *cfgPath, interval, hup, load)
	}()
	defer func() { stopWatch(); <-watching }()
	fmt.Fprintf(stdout, "quarry: serving %s on http://%s (OpenAI API under /v1, Elasticsearch inference API under /_inference)\n", served, ln.Addr())
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "quarry serve:", err)
		return 1
	}
	return 0
}
