package fakeacr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// ExampleAADToken reads the Entra ID token of the spec's PostRefreshToken example
// (the access_token parameter) from specs, the acr-dataplane directory.
func ExampleAADToken(specs string) (string, error) {
	file := filepath.Join(specs, "examples", "PostRefreshToken.json")
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the AAD token example: %w", err)
	}
	var ex struct {
		Parameters map[string]string `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		return "", fmt.Errorf("decoding %s: %w", file, err)
	}
	if ex.Parameters["access_token"] == "" {
		return "", fmt.Errorf("%s: no access_token parameter", file)
	}
	return ex.Parameters["access_token"], nil
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "access_token" || r.PostForm.Get("service") != s.Host {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type or service")
		return
	}
	if r.PostForm.Get("access_token") != s.AADToken {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad AAD token")
		return
	}
	s.mu.Lock()
	token := fmt.Sprintf("acr-refresh-%d", len(s.refresh)+1)
	s.refresh[token] = true
	s.mu.Unlock()
	writeJSONBody(w, map[string]string{"refresh_token": token})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "form expected")
		return
	}
	scope := strings.Join(r.PostForm["scope"], " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessScopes = append(s.accessScopes, scope)
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token", r.PostForm.Get("service") != s.Host, scope == "":
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type, service or scope")
		return
	case !s.refresh[r.PostForm.Get("refresh_token")]:
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad refresh token")
		return
	}
	access := fmt.Sprintf("acr-access-%d", len(s.accessScopes))
	s.access[access] = scope
	writeJSONBody(w, map[string]string{"access_token": access})
}

// authorized reports whether r carries an access token granting scope; the ping
// (scope "") needs any live token.
func (s *Server) authorized(r *http.Request, scope string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	granted, ok := s.access[token]
	return ok && (scope == "" || strings.Contains(" "+granted+" ", " "+scope+" "))
}
