#pragma once

#include <string>

namespace kpx {

// Everything needed to reach and authenticate to one API server, resolved from a kubeconfig, the
// in-cluster service account, or --master. File references are read at load time (PEM contents
// are held here) except the bearer token file, which rotates and is re-read by BearerTokenSource.
struct ClientConfig {
  // "https://host:port" (or http:// for a plain --master), without a trailing path.
  std::string server;
  // Trust anchors for the server certificate. Empty: the system trust store.
  std::string certificate_authority_pem;
  // Client certificate authentication; both set or both empty.
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Where the two came from when both are files: re-read for every new connection, so rotated
  // files take effect (client-go does the same). Empty for inline data.
  std::string client_certificate_file;
  std::string client_key_file;
  // Bearer token authentication. When token_file is set it wins and `token` is only a fallback
  // for when the file cannot be read (the kubeconfig rule).
  std::string token;
  std::string token_file;
  bool insecure_skip_tls_verify = false;
  // kubeconfig's tls-server-name: the name the server certificate must carry (and the SNI) when
  // it differs from the host in `server`. Empty: the host in `server`.
  std::string tls_server_name;
  // kubeconfig's proxy-url: an http://, https:// or socks5:// proxy for every request. Empty: the
  // environment's HTTPS_PROXY / NO_PROXY, as client-go does.
  std::string proxy_url;
  // Where this came from ("kubeconfig /root/.kube/config, context kind-kind"), for log lines.
  std::string origin;
};

}  // namespace kpx
