package config

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// identitySettings are the identity-based storage settings, in the order errors name them.
var identitySettings = []string{
	EnvStorageQueueServiceURI, EnvStorageTableServiceURI, EnvStorageBlobServiceURI,
	EnvStorageCredential, EnvStorageClientID,
}

// managedIdentity is the only credential value the Functions host and Tidewatch accept.
const managedIdentity = "managedidentity"

// parseStorage reads exactly one of the two storage forms: a connection string, or the
// identity-based service URIs with credential=managedidentity.
func parseStorage(env environment) (Storage, error) {
	var identitySet []string
	for _, name := range identitySettings {
		if env.has(name) {
			identitySet = append(identitySet, name)
		}
	}
	connectionString := env.get(EnvStorage, "")
	switch {
	case connectionString != "" && len(identitySet) > 0:
		return Storage{}, problem(EnvStorage, "set either the connection string or the identity-based %s__* settings, not both (found %s)",
			EnvStorage, strings.Join(identitySet, ", "))
	case connectionString != "":
		if err := checkConnectionString(connectionString); err != nil {
			return Storage{}, err
		}
		return Storage{ConnectionString: Secret(connectionString)}, nil
	case len(identitySet) > 0:
		return parseIdentityStorage(env)
	default:
		return Storage{}, problem(EnvStorage, "storage is not configured: set %s to a connection string, or %s, %s, %s and %s=%s",
			EnvStorage, EnvStorageQueueServiceURI, EnvStorageTableServiceURI, EnvStorageBlobServiceURI, EnvStorageCredential, managedIdentity)
	}
}

// parseIdentityStorage reads the identity-based form, naming every missing setting.
func parseIdentityStorage(env environment) (Storage, error) {
	var errs []error
	serviceURL := func(name string) string {
		value := env.get(name, "")
		if value == "" {
			errs = append(errs, problem(name, "required for identity-based storage access"))
			return ""
		}
		if err := checkServiceURL(value); err != nil {
			errs = append(errs, problem(name, "%v, got %q", err, value))
		}
		return value
	}
	s := Storage{
		QueueServiceURL: serviceURL(EnvStorageQueueServiceURI),
		TableServiceURL: serviceURL(EnvStorageTableServiceURI),
		BlobServiceURL:  serviceURL(EnvStorageBlobServiceURI),
	}
	switch credential := env.get(EnvStorageCredential, ""); {
	case credential == "":
		errs = append(errs, problem(EnvStorageCredential, "required for identity-based storage access; want %s", managedIdentity))
	case !strings.EqualFold(credential, managedIdentity):
		errs = append(errs, problem(EnvStorageCredential, "want %s, got %q", managedIdentity, credential))
	}
	clientID, err := parseOptionalGUID(EnvStorageClientID, env.get(EnvStorageClientID, ""))
	if err != nil {
		errs = append(errs, err)
	}
	s.ClientID = clientID
	return s, errors.Join(errs...)
}

// checkServiceURL accepts an https URL, or http for a loopback host (Azurite).
func checkServiceURL(value string) error {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return errors.New("want an absolute service URL such as https://account.queue.core.windows.net")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("want https (http only for a loopback emulator)")
	default:
		return errors.New("want an https URL")
	}
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connectionStringKeys are the keys an Azure Storage connection string may hold.
var connectionStringKeys = []string{
	"DefaultEndpointsProtocol", "AccountName", "AccountKey", "EndpointSuffix", "SharedAccessSignature",
	"BlobEndpoint", "QueueEndpoint", "TableEndpoint", "FileEndpoint",
	"BlobSecondaryEndpoint", "QueueSecondaryEndpoint", "TableSecondaryEndpoint", "FileSecondaryEndpoint",
	"UseDevelopmentStorage", "DevelopmentStorageProxyUri",
}

// checkConnectionString checks the shape of a storage connection string. Its errors
// name keys and positions only: the string holds the account key.
func checkConnectionString(value string) error {
	keys := map[string]string{}
	for i, part := range strings.Split(value, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		key, v, ok := strings.Cut(part, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return problem(EnvStorage, "part %d of the connection string is not key=value", i+1)
		}
		canonical := ""
		for _, known := range connectionStringKeys {
			if strings.EqualFold(known, key) {
				canonical = known
			}
		}
		if canonical == "" {
			return problem(EnvStorage, "connection string has unknown key %q", key)
		}
		keys[canonical] = v
	}
	hasEndpoints := keys["BlobEndpoint"] != "" && keys["QueueEndpoint"] != "" && keys["TableEndpoint"] != ""
	if keys["AccountName"] == "" && !strings.EqualFold(keys["UseDevelopmentStorage"], "true") && !hasEndpoints {
		return problem(EnvStorage, "connection string needs AccountName, UseDevelopmentStorage=true, or BlobEndpoint, QueueEndpoint and TableEndpoint")
	}
	return nil
}
