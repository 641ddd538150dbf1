#pragma once

#include <string>

namespace kpx::testing {

// A throwaway PKI generated in-process with OpenSSL (EC P-256, valid for a day): a cluster CA, a
// server certificate for IPs 127.0.0.1, ::1 and fd00::1 and the name kubernetes.default.svc (plus
// server certificates a client must refuse, see below), a client certificate (CN kpx-node, O
// system:nodes) signed by the CA, and a client certificate signed by an unrelated CA that the
// server must refuse.
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
  // Server certificates signed by the cluster CA that name the server only in their Common Name,
  // which Go (and so kube-proxy) ignores since 1.15: SANs for another host with CN 127.0.0.1, no
  // SANs with CN localhost, no SANs with CN *.*.*.* (issue 17, item 3).
  struct KeyPair {
    std::string cert_pem;
    std::string key_pem;
  };
  KeyPair server_san_elsewhere_cn_ip;
  KeyPair server_no_san_cn_localhost;
  KeyPair server_no_san_cn_wildcard;

  static TestPki Generate();
};

}  // namespace kpx::testing
