#include "k8s-watch/client/tls_material.h"

#include <glog/logging.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include "k8s-watch/client/text_file.h"

namespace kpx {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in a PEM bundle; stops at the first block that is not one.
std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the loop always ends on a "no start line" error
  return certs;
}

PkeyPtr ReadKey(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

}  // namespace

Result<TlsMaterial> TlsMaterial::FromConfig(const ClientConfig& config) {
  TlsMaterial m;
  if (!config.certificate_authority_pem.empty()) {
    if (ReadCertificates(config.certificate_authority_pem).empty()) {
      return Status::Error(config.origin + ": certificate authority: no PEM certificate found");
    }
    m.ca_pem_ = config.certificate_authority_pem;
  }
  if (!config.client_certificate_pem.empty()) {
    std::vector<X509Ptr> chain = ReadCertificates(config.client_certificate_pem);
    if (chain.empty()) {
      return Status::Error(config.origin + ": client certificate: no PEM certificate found");
    }
    PkeyPtr key = ReadKey(config.client_key_pem);
    if (!key) return Status::Error(config.origin + ": client key: no PEM private key found");
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
      ERR_clear_error();
      return Status::Error(config.origin + ": client key does not match the client certificate");
    }
    m.client_->certificate_pem = config.client_certificate_pem;
    m.client_->key_pem = config.client_key_pem;
    m.client_->certificate_file = config.client_certificate_file;
    m.client_->key_file = config.client_key_file;
  }
  return m;
}

void TlsMaterial::Current(std::string* certificate_pem, std::string* key_pem) const {
  std::lock_guard lock(client_->mu);
  if (!client_->certificate_file.empty() && !client_->key_file.empty()) {
    Result<std::string> cert = TextFile::Read(client_->certificate_file);
    Result<std::string> key = TextFile::Read(client_->key_file);
    if (cert.ok() && key.ok() && (*cert != client_->certificate_pem || *key != client_->key_pem)) {
      std::vector<X509Ptr> chain = ReadCertificates(*cert);
      PkeyPtr parsed = ReadKey(*key);
      const bool good = !chain.empty() && parsed &&
                        X509_check_private_key(chain.front().get(), parsed.get()) == 1;
      ERR_clear_error();
      if (good) {
        LOG(INFO) << "client certificate " << client_->certificate_file
                  << " changed: using the new one for new connections";
        client_->certificate_pem = std::move(*cert);
        client_->key_pem = std::move(*key);
        client_->rejected.clear();
      } else if (client_->rejected != *cert + *key) {
        LOG(WARNING) << "client certificate " << client_->certificate_file << " and key "
                     << client_->key_file
                     << " changed but do not form a valid pair (yet): keeping the previous one";
        client_->rejected = *cert + *key;
      }
    }
  }
  *certificate_pem = client_->certificate_pem;
  *key_pem = client_->key_pem;
}

bool TlsMaterial::Install(SSL_CTX* ctx) const {
  if (!ca_pem_.empty()) {
    // Only the configured CAs: a cluster CA is private, and trusting every public CA as well would
    // let any publicly valid certificate for the server's name impersonate the API server.
    X509_STORE* store = X509_STORE_new();
    for (const X509Ptr& cert : ReadCertificates(ca_pem_)) X509_STORE_add_cert(store, cert.get());
    SSL_CTX_set_cert_store(ctx, store);  // takes ownership, frees the default store
  }
  std::string certificate_pem;
  std::string key_pem;
  Current(&certificate_pem, &key_pem);
  if (!certificate_pem.empty()) {
    std::vector<X509Ptr> chain = ReadCertificates(certificate_pem);
    PkeyPtr key = ReadKey(key_pem);
    if (chain.empty() || !key || SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
      return false;
    }
    for (size_t i = 1; i < chain.size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) return false;
    }
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return false;
  }
  return true;
}

}  // namespace kpx
