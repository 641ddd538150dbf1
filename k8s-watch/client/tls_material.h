#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "base/status.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// The PEM trust anchors and client credentials of a ClientConfig, checked once and then installed
// into every TLS context cpprestsdk creates (it makes one per new connection).
class TlsMaterial {
 public:
  // Fails with a message naming the bad item: unparsable CA bundle, certificate or key, or a key
  // that does not match the certificate.
  static Result<TlsMaterial> FromConfig(const ClientConfig& config);

  // Replaces the context's trust store with exactly the configured CAs (when there are any: the
  // system store otherwise) and loads the client certificate chain and key.
  void Install(boost::asio::ssl::context& context) const;

  bool has_client_certificate() const { return !certificate_pem_.empty(); }

 private:
  std::string ca_pem_;
  std::string certificate_pem_;
  std::string key_pem_;
};

}  // namespace kpx
