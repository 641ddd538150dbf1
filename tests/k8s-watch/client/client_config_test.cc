#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "k8s-watch/client/base64.h"
#include "k8s-watch/client/client_config_loader.h"
#include "k8s-watch/client/in_cluster_config.h"
#include "k8s-watch/client/kubeconfig_loader.h"
#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

// A kubeconfig as kubeadm and kind write them, with a second context to switch to.
std::string FullKubeconfig() {
  return R"(apiVersion: v1
kind: Config
preferences: {}
current-context: kpx@prod
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: pki/ca.crt
    extensions: [{name: client.authentication.k8s.io/exec, extension: {audience: x}}]
- name: staging
  cluster:
    server: https://staging.example.com
    certificate-authority-data: )" +
         Base64::Encode(kCaPem) + R"(
- name: lab
  cluster:
    server: http://127.0.0.1:8080
    insecure-skip-tls-verify: true
contexts:
- name: kpx@prod
  context: {cluster: prod, user: kpx, namespace: kube-system}
- name: kpx@staging
  context: {cluster: staging, user: token-user}
- name: lab
  context: {cluster: lab, user: file-token}
- name: anonymous
  context: {cluster: staging}
users:
- name: kpx
  user:
    client-certificate-data: )" +
         Base64::Encode(kCertPem) + R"(
    client-key-data: )" +
         Base64::Encode(kKeyPem) + R"(
- name: token-user
  user:
    token: abc.def
- name: file-token
  user:
    tokenFile: tokens/kpx
    token: static-fallback
)";
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("pki/ca.crt", kCaPem);
    dir_.Write("tokens/kpx", "from-file\n");
    path_ = dir_.Write("kubeconfig", FullKubeconfig());
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(KubeconfigTest, CurrentContextWithRelativeCaFileAndClientCertificateData) {
  Result<ClientConfig> c = KubeconfigLoader::Load(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->certificate_authority_pem, kCaPem);
  EXPECT_EQ(c->client_certificate_pem, kCertPem);
  EXPECT_EQ(c->client_key_pem, kKeyPem);
  EXPECT_EQ(c->token, "");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_THAT(c->origin, HasSubstr("context kpx@prod"));
}

TEST_F(KubeconfigTest, ContextOverrideWithCaDataAndToken) {
  Result<ClientConfig> c = KubeconfigLoader::Load(path_, "kpx@staging");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://staging.example.com");
  EXPECT_EQ(c->certificate_authority_pem, kCaPem);
  EXPECT_EQ(c->token, "abc.def");
  EXPECT_TRUE(c->client_certificate_pem.empty());
}

TEST_F(KubeconfigTest, InsecureClusterAndRelativeTokenFile) {
  Result<ClientConfig> c = KubeconfigLoader::Load(path_, "lab");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token_file, dir_.path() + "/tokens/kpx");
  EXPECT_EQ(c->token, "static-fallback");
}

// Issue 17 item 7: both were silently ignored.
TEST(KubeconfigFieldsTest, TlsServerNameAndProxyUrlAreRead) {
  TempDir dir;
  const std::string path = dir.Write("kubeconfig", R"(apiVersion: v1
kind: Config
current-context: c
clusters:
- name: v6
  cluster:
    server: https://[fd00::1]:6443
    tls-server-name: kubernetes.default.svc
    proxy-url: socks5://127.0.0.1:1080
    certificate-authority-data: )" + Base64::Encode(kCaPem) +
                                                       R"(
contexts:
- name: c
  context: {cluster: v6}
)");
  Result<ClientConfig> c = KubeconfigLoader::Load(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://[fd00::1]:6443");
  EXPECT_EQ(c->tls_server_name, "kubernetes.default.svc");
  EXPECT_EQ(c->proxy_url, "socks5://127.0.0.1:1080");

  dir.Write("bad", R"(apiVersion: v1
kind: Config
current-context: c
clusters:
- {name: v6, cluster: {server: "https://10.0.0.1", proxy-url: "ftp://x"}}
contexts:
- {name: c, context: {cluster: v6}}
)");
  Result<ClientConfig> bad = KubeconfigLoader::Load(dir.path() + "/bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("proxy-url"));
}

TEST_F(KubeconfigTest, ContextWithoutUserIsAnonymous) {
  Result<ClientConfig> c = KubeconfigLoader::Load(path_, "anonymous");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->token.empty());
  EXPECT_TRUE(c->token_file.empty());
  EXPECT_TRUE(c->client_certificate_pem.empty());
}

TEST_F(KubeconfigTest, AbsolutePathsStayAbsolute) {
  const std::string ca = dir_.Write("elsewhere/ca.pem", kCaPem);
  const std::string cert = dir_.Write("elsewhere/c.pem", kCertPem);
  const std::string key = dir_.Write("elsewhere/k.pem", kKeyPem);
  TempDir other;
  const std::string path = other.Write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority: )" +
                                                     ca + R"(}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate: )" + cert +
                                                     ", client-key: " + key + "}}]\n");
  Result<ClientConfig> c = KubeconfigLoader::Load(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->certificate_authority_pem, kCaPem);
  EXPECT_EQ(c->client_certificate_pem, kCertPem);
  EXPECT_EQ(c->client_key_pem, kKeyPem);
}

struct BadCase {
  const char* name;
  std::string yaml;
  const char* error;  // a substring the message must contain
};

class BadKubeconfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadKubeconfigTest, NamesTheField) {
  TempDir dir;
  const std::string path = dir.Write("kc", GetParam().yaml);
  Result<ClientConfig> c = KubeconfigLoader::Load(path);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().error));
  EXPECT_THAT(c.status().message(), HasSubstr("kubeconfig " + path));
  // Secrets never end up in messages.
  EXPECT_THAT(c.status().message(), ::testing::Not(HasSubstr("s3cret")));
}

const std::string kHead = R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
)";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadKubeconfigTest,
    ::testing::Values(
        BadCase{"NotYaml", "clusters: [unclosed\n  token: s3cret", "invalid YAML"},
        BadCase{"NotAMap", "- a\n- b\n", "must be a YAML map"},
        BadCase{"WrongKind", "kind: Pod\n", "kind: \"Pod\" is not Config"},
        BadCase{"NoCurrentContext", "clusters: []\n", "current-context: not set"},
        BadCase{"UnknownContext", "current-context: nope\ncontexts: []\n",
                "contexts: no entry named \"nope\""},
        BadCase{"ContextWithoutCluster",
                "current-context: c\ncontexts: [{name: c, context: {user: u}}]\n",
                "contexts[c].context.cluster: required"},
        BadCase{"UnknownCluster", kHead + "clusters: [{name: other, cluster: {server: x}}]\n",
                "clusters: no entry named \"k\""},
        BadCase{"ClustersNotAList", kHead + "clusters: {k: {server: x}}\n",
                "clusters: must be a list"},
        BadCase{"NoServer", kHead + "clusters: [{name: k, cluster: {}}]\n",
                "clusters[k].cluster.server: required"},
        BadCase{"ServerNotUrl", kHead + "clusters: [{name: k, cluster: {server: 10.0.0.1}}]\n",
                "clusters[k].cluster.server: must start with https://"},
        BadCase{"ServerNotString", kHead + "clusters: [{name: k, cluster: {server: [a, b]}}]\n",
                "clusters[k].cluster.server: must be a string"},
        BadCase{"BadCaData",
                kHead + "clusters: [{name: k, cluster: {server: https://k, "
                        "certificate-authority-data: '***'}}]\n",
                "clusters[k].cluster.certificate-authority-data: invalid base64"},
        BadCase{"MissingCaFile",
                kHead + "clusters: [{name: k, cluster: {server: https://k, "
                        "certificate-authority: /nonexistent/ca.crt}}]\n",
                "clusters[k].cluster.certificate-authority: cannot read /nonexistent/ca.crt"},
        BadCase{"InsecureNotBool",
                kHead + "clusters: [{name: k, cluster: {server: https://k, "
                        "insecure-skip-tls-verify: maybe}}]\n",
                "clusters[k].cluster.insecure-skip-tls-verify: must be true or false"},
        BadCase{"InsecureWithCa",
                kHead +
                    "clusters: [{name: k, cluster: {server: https://k, "
                    "insecure-skip-tls-verify: true, certificate-authority-data: " +
                    Base64::Encode(kCaPem) + "}}]\n",
                "mutually exclusive"},
        BadCase{"UnknownUser",
                kHead + "clusters: [{name: k, cluster: {server: https://k}}]\nusers: []\n",
                "users: no entry named \"u\""},
        BadCase{"CertWithoutKey",
                kHead +
                    "clusters: [{name: k, cluster: {server: https://k}}]\n"
                    "users: [{name: u, user: {client-certificate-data: " +
                    Base64::Encode(kCertPem) + "}}]\n",
                "users[u].user: client-certificate given without client-key"},
        BadCase{"BadKeyData",
                kHead +
                    "clusters: [{name: k, cluster: {server: https://k}}]\n"
                    "users: [{name: u, user: {client-certificate-data: " +
                    Base64::Encode(kCertPem) + ", client-key-data: 'no=pe'}}]\n",
                "users[u].user.client-key-data: invalid base64"},
        BadCase{"ExecPlugin",
                kHead + "clusters: [{name: k, cluster: {server: https://k}}]\n"
                        "users: [{name: u, user: {exec: {command: aws}}}]\n",
                "users[u].user.exec: not supported"},
        BadCase{"TokenFileMissing",
                kHead + "clusters: [{name: k, cluster: {server: https://k}}]\n"
                        "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n",
                "users[u].user.tokenFile: cannot read /nonexistent/token"},
        BadCase{"TokenNotString",
                kHead + "clusters: [{name: k, cluster: {server: https://k}}]\n"
                        "users: [{name: u, user: {token: {s3cret: 1}}}]\n",
                "users[u].user.token: must be a string"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(KubeconfigLoadTest, MissingFileNamesThePath) {
  Result<ClientConfig> c = KubeconfigLoader::Load("/nonexistent/kubeconfig");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("kubeconfig /nonexistent/kubeconfig: cannot read"));
}

class InClusterTest : public ::testing::Test {
 protected:
  std::function<const char*(const char*)> Env() {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  TempDir dir_;
  std::map<std::string, std::string> env_{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                          {"KUBERNETES_SERVICE_PORT", "443"}};
};

TEST_F(InClusterTest, ServiceAccountFiles) {
  dir_.Write("ca.crt", kCaPem);
  dir_.Write("token", "eyJhbGciOi\n");
  Result<ClientConfig> c = InClusterConfig::Load(Env(), dir_.path());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->certificate_authority_pem, kCaPem);
  EXPECT_EQ(c->token_file, dir_.path() + "/token");
  EXPECT_TRUE(c->token.empty());  // read per request, so rotation is followed
  EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST_F(InClusterTest, Ipv6ServiceHostIsBracketed) {
  dir_.Write("ca.crt", kCaPem);
  dir_.Write("token", "t");
  env_["KUBERNETES_SERVICE_HOST"] = "fd00:96::1";
  Result<ClientConfig> c = InClusterConfig::Load(Env(), dir_.path());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://[fd00:96::1]:443");
}

TEST_F(InClusterTest, MissingEnvironment) {
  env_.erase("KUBERNETES_SERVICE_PORT");
  Result<ClientConfig> c = InClusterConfig::Load(Env(), dir_.path());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"));
}

TEST_F(InClusterTest, MissingTokenOrCa) {
  dir_.Write("ca.crt", kCaPem);
  Result<ClientConfig> no_token = InClusterConfig::Load(Env(), dir_.path());
  ASSERT_FALSE(no_token.ok());
  EXPECT_THAT(no_token.status().message(), HasSubstr("token"));
  TempDir empty;
  Result<ClientConfig> no_ca = InClusterConfig::Load(Env(), empty.path());
  ASSERT_FALSE(no_ca.ok());
  EXPECT_THAT(no_ca.status().message(), HasSubstr("ca.crt"));
}

TEST_F(KubeconfigTest, LoaderMasterOverridesKubeconfigServer) {
  Result<ClientConfig> c = ClientConfigLoader::Load(
      {.kubeconfig = path_, .master = "https://lb.example.com:6443", .context = ""});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://lb.example.com:6443");
  EXPECT_EQ(c->client_certificate_pem, kCertPem);  // credentials still from the kubeconfig
}

TEST(ClientConfigLoaderTest, MasterAloneHasNoCredentials) {
  Result<ClientConfig> c = ClientConfigLoader::Load(
      {.kubeconfig = "", .master = "http://127.0.0.1:8080/", .context = ""});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "http://127.0.0.1:8080");
  EXPECT_TRUE(c->token.empty());
}

TEST(ClientConfigLoaderTest, BadMaster) {
  Result<ClientConfig> c =
      ClientConfigLoader::Load({.kubeconfig = "", .master = "10.0.0.1:6443", .context = ""});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("--master"));
}

}  // namespace
}  // namespace kpx
