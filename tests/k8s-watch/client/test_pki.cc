#include "tests/k8s-watch/client/test_pki.h"

#include <glog/logging.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace kpx::testing {

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

struct Issued {
  KeyPtr key;
  CertPtr cert;
};

KeyPtr NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  CHECK(key) << "EVP_EC_gen";
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  CHECK(ext != nullptr) << "extension " << OBJ_nid2sn(nid) << "=" << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// Issues a certificate for `cn` (and organisation `org` when non-empty). A null issuer makes it a
// self-signed CA.
Issued Issue(const char* cn, const char* org, const Issued* issuer, bool is_ca, const char* eku,
             const char* san, long serial) {
  Issued out{NewKey(), CertPtr(X509_new())};
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  if (org != nullptr) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(org),
                               -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  AddExtension(x, issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) AddExtension(x, issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (is_ca) {
    AddExtension(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(x, issuer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    AddExtension(x, issuer_cert, NID_ext_key_usage, eku);
  }
  if (san != nullptr) AddExtension(x, issuer_cert, NID_subject_alt_name, san);
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  CHECK(X509_sign(x, signing_key, EVP_sha256()) > 0) << "X509_sign";
  return out;
}

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string ToPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

}  // namespace

TestPki TestPki::Generate() {
  const Issued ca = Issue("kpx-test-ca", nullptr, nullptr, true, nullptr, nullptr, 1);
  const Issued server =
      Issue("kube-apiserver", nullptr, &ca, false, "serverAuth",
            "IP:127.0.0.1,IP:::1,IP:fd00::1,DNS:localhost,DNS:kubernetes.default.svc", 2);
  const Issued san_elsewhere = Issue("127.0.0.1", nullptr, &ca, false, "serverAuth",
                                     "DNS:elsewhere.example,IP:192.0.2.1", 6);
  const Issued no_san_localhost = Issue("localhost", nullptr, &ca, false, "serverAuth", nullptr, 7);
  const Issued no_san_wildcard = Issue("*.*.*.*", nullptr, &ca, false, "serverAuth", nullptr, 8);
  const Issued client =
      Issue("system:node:kpx-node", "system:nodes", &ca, false, "clientAuth", nullptr, 3);
  const Issued other_ca = Issue("kpx-other-ca", nullptr, nullptr, true, nullptr, nullptr, 4);
  const Issued rogue =
      Issue("system:node:kpx-node", "system:nodes", &other_ca, false, "clientAuth", nullptr, 5);
  TestPki pki;
  pki.ca_pem = ToPem(ca.cert.get());
  pki.server_cert_pem = ToPem(server.cert.get());
  pki.server_key_pem = ToPem(server.key.get());
  pki.client_cert_pem = ToPem(client.cert.get());
  pki.client_key_pem = ToPem(client.key.get());
  pki.rogue_client_cert_pem = ToPem(rogue.cert.get());
  pki.rogue_client_key_pem = ToPem(rogue.key.get());
  pki.other_ca_pem = ToPem(other_ca.cert.get());
  pki.server_san_elsewhere_cn_ip = {ToPem(san_elsewhere.cert.get()),
                                    ToPem(san_elsewhere.key.get())};
  pki.server_no_san_cn_localhost = {ToPem(no_san_localhost.cert.get()),
                                    ToPem(no_san_localhost.key.get())};
  pki.server_no_san_cn_wildcard = {ToPem(no_san_wildcard.cert.get()),
                                   ToPem(no_san_wildcard.key.get())};
  return pki;
}

}  // namespace kpx::testing
