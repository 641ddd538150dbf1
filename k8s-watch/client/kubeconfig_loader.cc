#include "k8s-watch/client/kubeconfig_loader.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>

#include "k8s-watch/client/base64.h"
#include "k8s-watch/client/text_file.h"

namespace kpx {

namespace {

// yaml-cpp throws on type mismatches; every access below checks the node type first so that
// errors carry the kubeconfig field path instead of a yaml-cpp message.
class Fields {
 public:
  explicit Fields(std::string origin) : origin_(std::move(origin)) {}

  Status Error(const std::string& path, const std::string& what) const {
    return Status::Error(origin_ + ": " + path + ": " + what);
  }

  // Absent or null leaves *out empty; a non-scalar is an error.
  Status String(const YAML::Node& map, const char* key, const std::string& path,
                std::string* out) const {
    const YAML::Node v = map[key];
    if (!v || v.IsNull()) return Status::Ok();
    if (!v.IsScalar()) return Error(path + "." + key, "must be a string");
    *out = v.Scalar();
    return Status::Ok();
  }

  Status Bool(const YAML::Node& map, const char* key, const std::string& path, bool* out) const {
    const YAML::Node v = map[key];
    if (!v || v.IsNull()) return Status::Ok();
    const std::string s = v.IsScalar() ? v.Scalar() : std::string();
    if (s == "true" || s == "True" || s == "TRUE") {
      *out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      *out = false;
    } else {
      return Error(path + "." + key, "must be true or false");
    }
    return Status::Ok();
  }

  // The map under entry[inner] of the entry named `name` in the list root[list].
  Result<YAML::Node> Named(const YAML::Node& root, const char* list, const char* inner,
                           const std::string& name) const {
    const YAML::Node entries = root[list];
    if (!entries || entries.IsNull()) {
      return Error(list, "no entry named \"" + name + "\" (the list is empty)");
    }
    if (!entries.IsSequence()) return Error(list, "must be a list");
    for (size_t i = 0; i < entries.size(); ++i) {
      const YAML::Node entry = entries[i];
      const std::string entry_path = std::string(list) + "[" + std::to_string(i) + "]";
      if (!entry.IsMap()) return Error(entry_path, "must be a map");
      std::string entry_name;
      if (Status s = String(entry, "name", entry_path, &entry_name); !s.ok()) return s;
      if (entry_name != name) continue;
      const YAML::Node value = entry[inner];
      const std::string value_path = std::string(list) + "[" + name + "]." + inner;
      if (!value || value.IsNull()) return YAML::Node(YAML::NodeType::Map);
      if (!value.IsMap()) return Error(value_path, "must be a map");
      return value;
    }
    return Error(list, "no entry named \"" + name + "\"");
  }

  // A "<field>" path or "<field>-data" base64 value; -data wins, as in kubectl.
  Status FileOrData(const YAML::Node& map, const std::string& field, const std::string& path,
                    const std::string& base_dir, std::string* file_path,
                    std::string* content) const {
    std::string data;
    const std::string data_field = field + "-data";
    if (Status s = String(map, data_field.c_str(), path, &data); !s.ok()) return s;
    if (!data.empty()) {
      std::optional<std::string> decoded = Base64::Decode(data);
      if (!decoded) return Error(path + "." + data_field, "invalid base64");
      if (decoded->empty()) return Error(path + "." + data_field, "empty after decoding");
      *content = std::move(*decoded);
      return Status::Ok();
    }
    std::string file;
    if (Status s = String(map, field.c_str(), path, &file); !s.ok()) return s;
    if (file.empty()) return Status::Ok();
    *file_path = Resolve(file, base_dir);
    Result<std::string> read = TextFile::Read(*file_path);
    if (!read.ok()) return Error(path + "." + field, "cannot read " + read.status().message());
    *content = std::move(read).value();
    return Status::Ok();
  }

  static std::string Resolve(const std::string& file, const std::string& base_dir) {
    std::filesystem::path p(file);
    if (p.is_absolute() || base_dir.empty()) return file;
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
  }

 private:
  std::string origin_;
};

}  // namespace

Result<ClientConfig> KubeconfigLoader::Load(const std::string& path, const std::string& context) {
  const std::string origin = "kubeconfig " + path;
  Result<std::string> text = TextFile::Read(path);
  if (!text.ok()) return Status::Error(origin + ": cannot read: " + text.status().message());
  std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  return Parse(*text, dir.string(), origin, context);
}

Result<ClientConfig> KubeconfigLoader::Parse(std::string_view yaml, const std::string& base_dir,
                                             const std::string& origin,
                                             const std::string& context) {
  const Fields f(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // e.what() carries position and reason only, never the offending text.
    return Status::Error(origin + ": invalid YAML: " + e.what());
  }
  if (!root.IsMap()) return Status::Error(origin + ": must be a YAML map (kind: Config)");

  std::string kind;
  if (Status s = f.String(root, "kind", "", &kind); !s.ok()) return s;
  if (!kind.empty() && kind != "Config") {
    return f.Error("kind", "\"" + kind + "\" is not Config");
  }

  std::string context_name = context;
  if (context_name.empty()) {
    if (Status s = f.String(root, "current-context", "", &context_name); !s.ok()) return s;
    if (context_name.empty()) return f.Error("current-context", "not set");
  }
  Result<YAML::Node> ctx = f.Named(root, "contexts", "context", context_name);
  if (!ctx.ok()) return ctx.status();
  const std::string ctx_path = "contexts[" + context_name + "].context";
  std::string cluster_name, user_name;
  if (Status s = f.String(*ctx, "cluster", ctx_path, &cluster_name); !s.ok()) return s;
  if (Status s = f.String(*ctx, "user", ctx_path, &user_name); !s.ok()) return s;
  if (cluster_name.empty()) return f.Error(ctx_path + ".cluster", "required");

  ClientConfig config;
  config.origin = origin + ", context " + context_name;

  Result<YAML::Node> cluster = f.Named(root, "clusters", "cluster", cluster_name);
  if (!cluster.ok()) return cluster.status();
  const std::string cluster_path = "clusters[" + cluster_name + "].cluster";
  if (Status s = f.String(*cluster, "server", cluster_path, &config.server); !s.ok()) return s;
  if (config.server.empty()) return f.Error(cluster_path + ".server", "required");
  if (!config.server.starts_with("https://") && !config.server.starts_with("http://")) {
    return f.Error(cluster_path + ".server", "must start with https:// or http://");
  }
  while (config.server.ends_with("/")) config.server.pop_back();
  if (Status s = f.Bool(*cluster, "insecure-skip-tls-verify", cluster_path,
                        &config.insecure_skip_tls_verify);
      !s.ok()) {
    return s;
  }
  // Both were silently ignored once (issue 17): a proxy that is required, or a certificate that
  // names the server differently, then failed with an unhelpful TLS or connect error.
  if (Status s = f.String(*cluster, "tls-server-name", cluster_path, &config.tls_server_name);
      !s.ok()) {
    return s;
  }
  if (Status s = f.String(*cluster, "proxy-url", cluster_path, &config.proxy_url); !s.ok()) {
    return s;
  }
  if (!config.proxy_url.empty() && !config.proxy_url.starts_with("http://") &&
      !config.proxy_url.starts_with("https://") && !config.proxy_url.starts_with("socks5://")) {
    return f.Error(cluster_path + ".proxy-url", "must start with http://, https:// or socks5://");
  }
  std::string ca_file;
  if (Status s = f.FileOrData(*cluster, "certificate-authority", cluster_path, base_dir, &ca_file,
                              &config.certificate_authority_pem);
      !s.ok()) {
    return s;
  }
  if (config.insecure_skip_tls_verify && !config.certificate_authority_pem.empty()) {
    // kubectl refuses this combination too: it is never what the author meant.
    return f.Error(cluster_path,
                   "certificate-authority and insecure-skip-tls-verify are mutually exclusive");
  }

  if (user_name.empty()) return config;  // anonymous
  Result<YAML::Node> user = f.Named(root, "users", "user", user_name);
  if (!user.ok()) return user.status();
  const std::string user_path = "users[" + user_name + "].user";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    const YAML::Node v = (*user)[unsupported];
    if (v && !v.IsNull()) return f.Error(user_path + "." + unsupported, "not supported by kpx");
  }
  std::string cert_file, key_file;
  if (Status s = f.FileOrData(*user, "client-certificate", user_path, base_dir, &cert_file,
                              &config.client_certificate_pem);
      !s.ok()) {
    return s;
  }
  if (Status s =
          f.FileOrData(*user, "client-key", user_path, base_dir, &key_file, &config.client_key_pem);
      !s.ok()) {
    return s;
  }
  if (!cert_file.empty() && !key_file.empty()) {
    config.client_certificate_file = cert_file;
    config.client_key_file = key_file;
  }
  if (config.client_certificate_pem.empty() != config.client_key_pem.empty()) {
    return f.Error(user_path, config.client_key_pem.empty()
                                  ? "client-certificate given without client-key"
                                  : "client-key given without client-certificate");
  }
  if (Status s = f.String(*user, "token", user_path, &config.token); !s.ok()) return s;
  std::string token_file;
  if (Status s = f.String(*user, "tokenFile", user_path, &token_file); !s.ok()) return s;
  if (!token_file.empty()) {
    config.token_file = Fields::Resolve(token_file, base_dir);
    // Checked once here so a typo fails at startup; later reads follow rotation.
    Result<std::string> token = TextFile::Read(config.token_file);
    if (!token.ok() && config.token.empty()) {
      return f.Error(user_path + ".tokenFile", "cannot read " + token.status().message());
    }
  }
  return config;
}

}  // namespace kpx
