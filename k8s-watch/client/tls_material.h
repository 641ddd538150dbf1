#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// The PEM trust anchors and client credentials of a ClientConfig, checked once and then installed
// into every TLS context the API client creates (one per connection). Client certificates given
// as files are re-read for each connection: a rotated pair takes effect at the next connection,
// and a half-written rotation (a key that does not match the certificate) keeps the last good
// pair. Thread-safe.
class TlsMaterial {
 public:
  // Fails with a message naming the bad item: unparsable CA bundle, certificate or key, or a key
  // that does not match the certificate.
  static Result<TlsMaterial> FromConfig(const ClientConfig& config);

  // Replaces the context's trust store with exactly the configured CAs (when there are any: the
  // system store otherwise) and loads the client certificate chain and key.
  // Returns false (with the OpenSSL error queue left for the caller) when something cannot be
  // installed, which FromConfig's checks make unexpected.
  bool Install(SSL_CTX* ctx) const;

  bool has_client_certificate() const { return !client_->certificate_pem.empty(); }

 private:
  struct ClientPair {
    std::mutex mu;
    std::string certificate_file;
    std::string key_file;
    std::string certificate_pem;  // the last good pair
    std::string key_pem;
    std::string rejected;  // the last pair refused, logged once
  };
  // The client pair to present now, after re-reading its files when there are any.
  void Current(std::string* certificate_pem, std::string* key_pem) const;

  std::string ca_pem_;
  std::shared_ptr<ClientPair> client_ = std::make_shared<ClientPair>();
};

}  // namespace kpx
