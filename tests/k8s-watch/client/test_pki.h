#pragma once

#include <string>

namespace kpx::testing {

// A throwaway PKI generated in-process with OpenSSL (EC P-256, valid for a day): a cluster CA, a
// server certificate for IP 127.0.0.1, a client certificate (CN kpx-node, O system:nodes) signed
// by the CA, and a client certificate signed by an unrelated CA that the server must refuse.
struct TestPki {
  std::string ca_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string rogue_client_cert_pem;
  std::string rogue_client_key_pem;
  // A CA that did not sign the server certificate: trusting only it must fail the handshake.
  std::string other_ca_pem;

  static TestPki Generate();
};

}  // namespace kpx::testing
