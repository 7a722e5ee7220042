// Command fakeacr serves the fake Azure Container Registry data plane (package
// fakeacr) in front of a real docker-registry, for the scale benchmark
// (scripts/scale.sh ACR=1):
//
//	fakeacr -listen 127.0.0.1:PORT -upstream 127.0.0.1:5000 -storage DIR -specs DIR
//
// It lists what the registry's filesystem storage (-storage, the filesystem
// driver's rootdirectory) holds, with the times its link files were written by real
// pushes, and proxies /v2/ to -upstream. It also serves the App Service managed
// identity endpoint (GET /msi/token, as IDENTITY_ENDPOINT with IDENTITY_HEADER
// names it to azidentity) handing out the spec example's Entra token that
// /oauth2/exchange accepts, and GET /fakeacr/counts: requests per endpoint so far.
// With -floor HOST it instead measures the ACR listing floor against a running fake
// (see floor). It is a development tool; the scanner never uses it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tidewatch/tidewatch/handler/internal/fakeacr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakeacr:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeacr", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "docker-registry host:port that /v2/ is proxied to")
	storage := fs.String("storage", "", "the registry's filesystem storage rootdirectory")
	specs := fs.String("specs", "", "the azure-specs/acr-dataplane directory (for the example Entra token)")
	identityHeader := fs.String("identity-header", "fakeacr", "the X-IDENTITY-HEADER value /msi/token requires (IDENTITY_HEADER)")
	floorOf := fs.String("floor", "", "instead of serving, measure the ACR listing floor of the fake at this host:port")
	concurrency := fs.Int("concurrency", 32, "with -floor: repositories in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *floorOf != "" {
		if *specs == "" {
			return errors.New("-floor needs -specs")
		}
		token, err := fakeacr.ExampleAADToken(*specs)
		if err != nil {
			return err
		}
		return floor(ctx, *floorOf, token, *concurrency, stdout)
	}
	if *upstream == "" || *storage == "" || *specs == "" {
		return errors.New("-upstream, -storage and -specs are required")
	}
	token, err := fakeacr.ExampleAADToken(*specs)
	if err != nil {
		return err
	}
	source, err := fakeacr.NewStorage(*storage)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	acr := fakeacr.New(source, token, *upstream)
	acr.Host = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/", acr)
	mux.HandleFunc("GET /msi/token", func(w http.ResponseWriter, r *http.Request) {
		managedIdentityToken(w, r, token, *identityHeader)
	})
	mux.HandleFunc("GET /fakeacr/counts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(acr.Counts())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "fakeacr listening on %s\n", acr.Host)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// managedIdentityToken answers as the App Service managed identity endpoint
// (api-version 2019-08-01): the Entra token for any resource, to a caller that sends
// the identity header.
func managedIdentityToken(w http.ResponseWriter, r *http.Request, token, header string) {
	q := r.URL.Query()
	if r.Header.Get("X-IDENTITY-HEADER") != header || q.Get("api-version") != "2019-08-01" || q.Get("resource") == "" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": token,
		"expires_on":   strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
	})
}
